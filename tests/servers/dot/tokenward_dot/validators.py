from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    """The ID token's `sub` is the user name (DOT's default is the user's database id), so
    that the shared scenarios see the same subject from both servers."""

    oidc_claim_scope = None

    def get_additional_claims(self, request):
        return {"sub": request.user.username}
