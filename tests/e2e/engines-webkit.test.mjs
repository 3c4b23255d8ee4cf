// The shared end-to-end cases in WebKit through WebDriver (see engines-suite.mjs); a file of
// its own so that it can run beside the other engine's (scripts/e2e.mjs).
import { engineSuite } from './engines-suite.mjs';

engineSuite('webkit');
