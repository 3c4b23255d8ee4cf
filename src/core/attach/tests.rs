use super::*;

#[test]
fn loopback_hosts_are_read_as_before() {
    // The former reading, with `split` and `parse`, as the reference.
    fn reference(hostname: &str) -> bool {
        let h = hostname.strip_suffix('.').unwrap_or(hostname);
        if h.eq_ignore_ascii_case("localhost") || h == "[::1]" {
            return true;
        }
        let mut parts = h.split('.');
        let first = parts.next();
        let rest: Vec<&str> = parts.collect();
        first == Some("127")
            && rest.len() == 3
            && rest.iter().all(|p| {
                !p.is_empty()
                    && p.len() <= 3
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && p.parse::<u16>().is_ok_and(|n| n <= 255)
            })
    }
    for h in [
        "localhost",
        "LOCALHOST.",
        "[::1]",
        "127.0.0.1",
        "127.0.0.1.",
        "127.255.255.255",
        "127.000.0.1",
        "127.0.0.256",
        "127.0.0",
        "127.0.0.1.1",
        "127..0.1",
        "127.0.0.",
        "127.0.0.1..",
        "127.0.0.0001",
        "127.a.0.1",
        "128.0.0.1",
        "127",
        "127.",
        "",
        "1127.0.0.1",
        "127.0.0.+1",
        "127.0.0.1 ",
        "127.0.0.999",
    ] {
        assert_eq!(is_loopback_host(h), reference(h), "{h}");
    }
    // Many labels never count round to three.
    let long = format!("127{}", ".1".repeat(259));
    assert!(!is_loopback_host(&long) && !reference(&long));
}

#[test]
fn after_scheme_is_the_first_separator() {
    assert_eq!(after_scheme("https://a.test/x://y"), Some(8));
    assert_eq!(after_scheme("http://"), Some(7));
    assert_eq!(after_scheme("https:/a.test"), None);
    assert_eq!(after_scheme(""), None);
}

fn host(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    if rest.starts_with('[') {
        rest.find(']').and_then(|e| rest.get(..=e)).unwrap_or(rest)
    } else {
        rest.split(':').next().unwrap_or(rest)
    }
}

fn u<'a>(origin: &'a str, pathname: &'a str) -> ParsedUrl<'a> {
    let protocol = if origin.starts_with("https:") {
        "https:"
    } else {
        "http:"
    };
    ParsedUrl {
        protocol,
        origin,
        pathname,
        has_credentials: false,
        has_query_or_fragment: false,
        hostname: host(origin),
    }
}

#[test]
fn origin_must_be_equal() {
    let r = AttachRule::new(u("https://api.example.com", "/")).unwrap();
    assert!(r.matches(u("https://api.example.com", "/")));
    assert!(r.matches(u("https://api.example.com", "/anything/deep")));
    assert!(!r.matches(u("http://api.example.com", "/")));
    assert!(!r.matches(u("https://api.example.com:8443", "/")));
    assert!(!r.matches(u("https://api.example.com.evil.com", "/")));
}

#[test]
fn prefix_without_slash_matches_at_slash_boundary() {
    let r = AttachRule::new(u("https://a.com", "/v1")).unwrap();
    assert!(r.matches(u("https://a.com", "/v1")));
    assert!(r.matches(u("https://a.com", "/v1/")));
    assert!(r.matches(u("https://a.com", "/v1/users")));
    assert!(!r.matches(u("https://a.com", "/v10")));
    assert!(!r.matches(u("https://a.com", "/v1x")));
    assert!(!r.matches(u("https://a.com", "/v1%2Fx")));
    assert!(!r.matches(u("https://a.com", "/")));
    assert!(!r.matches(u("https://a.com", "/V1")));
}

#[test]
fn prefix_is_matched_as_written() {
    let r = AttachRule::new(u("https://app.example", "/api/")).unwrap();
    assert!(!r.matches(u("https://app.example", "/api")));
    assert!(r.matches(u("https://app.example", "/api/")));
    assert!(r.matches(u("https://app.example", "/api/x")));
    assert!(r.matches(u("https://app.example", "/api//x")));
    assert!(!r.matches(u("https://app.example", "/apix")));
    assert!(!r.matches(u("https://app.example", "/ap")));
    let deep = AttachRule::new(u("https://app.example", "/a/b/")).unwrap();
    assert!(!deep.matches(u("https://app.example", "/a/b")));
    assert!(!deep.matches(u("https://app.example", "/a/")));
    assert!(deep.matches(u("https://app.example", "/a/b/c")));
    // Origin-only entries cover every path.
    let all = AttachRule::new(u("https://app.example", "/")).unwrap();
    for p in ["/", "/api", "/api/", "/x/y/z"] {
        assert!(all.matches(u("https://app.example", p)), "{p}");
    }
}

#[test]
fn encoded_separators_after_the_prefix_get_no_token() {
    let rules = [
        AttachRule::new(u("https://a.com", "/api")).unwrap(),
        AttachRule::new(u("https://a.com", "/api/")).unwrap(),
        AttachRule::new(u("https://a.com", "/")).unwrap(),
    ];
    for path in [
        "/api/%2f",
        "/api/%2F",
        "/api/a%2fb",
        "/api/a%2Fb",
        "/api/%5c",
        "/api/%5C",
        "/api/a%5cb",
        "/api/%2e%2e/x",
        "/api/%2E%2E/x",
        "/api/.%2e/x",
        "/api/.%2E/x",
        "/api/%2e./x",
        "/api/%2e",
        "/api/%252f",
        "/api/%252F",
        "/api/%255c",
        "/api/%252e%252e/x",
        "/api/%25252f",
        "/api/%25%32%66",
        "/api/%25%32%46",
        "/api/%25%35%63",
        "/api/x/%2e%2e/%2e%2e/admin",
        "/api/%2525252f",
    ] {
        for r in &rules {
            assert!(!r.matches(u("https://a.com", path)), "{path} {r:?}");
        }
    }
    for path in [
        "/api/x",
        "/api/%41",
        "/api/a%20b",
        "/api/%7e",
        "/api/%25",
        "/api/100%25x",
    ] {
        for r in &rules {
            assert!(r.matches(u("https://a.com", path)), "{path} {r:?}");
        }
    }
    // Only what follows the prefix is looked at: the prefix is compared as written.
    let encoded_prefix = AttachRule::new(u("https://a.com", "/a%2Eb/")).unwrap();
    assert!(encoded_prefix.matches(u("https://a.com", "/a%2Eb/x")));
    assert!(!encoded_prefix.matches(u("https://a.com", "/a%2Eb/%2e%2e")));
}

#[test]
fn credentials_and_odd_schemes_never_match() {
    let r = AttachRule::new(u("https://a.com", "/")).unwrap();
    let mut url = u("https://a.com", "/");
    url.has_credentials = true;
    assert!(!r.matches(url));
    let ws = ParsedUrl {
        protocol: "wss:",
        ..u("https://a.com", "/")
    };
    assert!(!r.matches(ws));
}

#[test]
fn bad_entries_are_invalid_options() {
    let mut q = u("https://a.com", "/");
    q.has_query_or_fragment = true;
    assert!(AttachRule::new(q).is_err());
    assert!(AttachRule::new(ParsedUrl {
        protocol: "ftp:",
        ..u("https://a.com", "/")
    })
    .is_err());
    assert!(AttachRule::new(ParsedUrl {
        origin: "null",
        ..u("https://a.com", "/")
    })
    .is_err());
}

#[test]
fn http_only_for_loopback() {
    for ok in [
        "http://127.0.0.1:8080",
        "http://127.0.0.1",
        "http://127.1.2.3",
        "http://127.255.255.255",
        "http://localhost:3000",
        "http://LOCALHOST",
        "http://[::1]:9000",
        "https://api.example.com",
        "https://10.0.0.1",
    ] {
        assert!(AttachRule::new(u(ok, "/")).is_ok(), "{ok}");
    }
    for bad in [
        "http://api.example.com",
        "http://10.0.0.1",
        "http://128.0.0.1",
        "http://127.0.0.1.evil.com",
        "http://localhost.evil.com",
        "http://[::2]",
        "http://0.0.0.0",
        "http://192.168.1.1",
    ] {
        let e = AttachRule::new(u(bad, "/api")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidOptions, "{bad}");
        assert!(
            e.message.contains("attachTo") && !e.message.contains(bad),
            "{bad}"
        );
        // The page's own origin is allowed as the default even over http.
        assert!(AttachRule::page_origin(u(bad, "/")).is_ok(), "{bad}");
    }
    assert!(require_secure("tokenEndpoint", "http:", "auth.example.com")
        .unwrap_err()
        .message
        .contains("tokenEndpoint"));
    assert!(require_secure("issuer", "http:", "127.0.0.1").is_ok());
}

#[test]
fn text_urls_from_documents() {
    for ok in [
        "https://op.example/token",
        "HTTPS://op.example",
        "http://127.0.0.1:4000/token",
        "http://localhost/t",
        "http://[::1]:80/t",
        "http://user@127.0.0.1/t",
    ] {
        assert!(secure_url_text(ok), "{ok}");
    }
    for bad in [
        "http://op.example/token",
        "http://127.0.0.1.op.example/t",
        "http://127.0.0.1@op.example/t",
        "http://localhost.op.example",
        "ftp://127.0.0.1/",
        "http://",
        "javascript:alert(1)",
    ] {
        assert!(!secure_url_text(bad), "{bad}");
    }
}

#[test]
fn entries_must_read_as_what_they_cover() {
    for ok in [
        "https://api.example.com",
        "https://api.example.com/",
        "https://api.example.com/v1/",
        "https://api.example.com/v1",
        "https://api.example.com/a.b/.well-known/..x/",
        "http://127.0.0.1:8080/api/",
        "https://api.example.com/v1/?",
    ] {
        assert!(written_plainly(ok), "{ok}");
    }
    for bad in [
        "https://api.example.com/v1/%2e%2e/",
        "https://api.example.com/v1/%2E./",
        "https://api.example.com/v1/../",
        "https://api.example.com/v1/..",
        "https://api.example.com/./v1/",
        "https://api.example.com/v1/.",
        "https://api.example.com/v1%2fadmin/",
        "https://api.example.com/v1%5Cadmin/",
        "https://api.example.com/v1%252e%252e/",
        "https://api.example.com\\v1/",
        "https://api.example.com/v1\\..\\",
    ] {
        assert!(!written_plainly(bad), "{bad}");
    }
}

#[test]
fn endpoints_carry_no_credentials() {
    let mut with = u("https://auth.example.com", "/token");
    with.has_credentials = true;
    let e = require_endpoint("tokenEndpoint", with).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidOptions);
    assert_eq!(
        e.message,
        "`tokenEndpoint` must not carry a user name or password"
    );
    assert!(require_endpoint("tokenEndpoint", u("https://auth.example.com", "/token")).is_ok());
    assert!(require_endpoint("issuer", u("http://127.0.0.1:9000", "/")).is_ok());
    assert!(
        require_endpoint("issuer", u("http://auth.example.com", "/"))
            .unwrap_err()
            .message
            .contains("https:")
    );
}
