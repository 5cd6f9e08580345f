// What live logs when its console listens: the URL (a wildcard address shown
// as its loopback, which a browser can open) and, beyond loopback, a warning
// that the page has no authentication.

import assert from "node:assert/strict";
import { consoleLines } from "./live_console.ts";

Deno.test("consoleLines: loopback is one INFO line; another host also a WARN saying there is no authentication; a wildcard's URL is openable", () => {
  assert.deepEqual(consoleLines("127.0.0.1", 8090), {
    info: "console on http://127.0.0.1:8090/",
  });
  assert.deepEqual(consoleLines("::1", 8090), {
    info: "console on http://[::1]:8090/",
  });
  const wide = consoleLines("0.0.0.0", 8090);
  assert.equal(wide.info, "console on http://127.0.0.1:8090/");
  assert.match(
    wide.warn!,
    /^The console has no authentication and is reachable from other machines on every interface \(port 8090, trading_core\.console\.host = "0\.0\.0\.0"\); prefer 127\.0\.0\.1 and an SSH tunnel$/,
  );
  assert.equal(consoleLines("::", 1).info, "console on http://[::1]:1/");
  assert.match(consoleLines("10.1.2.3", 1).warn!, /on 10\.1\.2\.3 /);
});
