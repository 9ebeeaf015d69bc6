import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { InvalidInputError, UnreachableError } from "./errors.ts";
import { parseKuboApiAddress, readKuboApiFile } from "./kubo_address.ts";

const VALID: Array<[string | URL, string]> = [
  ["http://127.0.0.1:5001", "http://127.0.0.1:5001/api/v0"],
  ["http://127.0.0.1:5001/", "http://127.0.0.1:5001/api/v0"],
  ["http://127.0.0.1:5001/api/v0", "http://127.0.0.1:5001/api/v0"],
  ["http://127.0.0.1:5001/api/v0/", "http://127.0.0.1:5001/api/v0"],
  ["  https://ipfs.example.com  ", "https://ipfs.example.com/api/v0"],
  ["https://proxy.example.com/ipfs", "https://proxy.example.com/ipfs/api/v0"],
  ["HTTP://LOCALHOST:5001", "http://localhost:5001/api/v0"],
  ["http://[::1]:5001", "http://[::1]:5001/api/v0"],
  [new URL("http://10.0.0.7:5001"), "http://10.0.0.7:5001/api/v0"],
  ["/ip4/127.0.0.1/tcp/5001", "http://127.0.0.1:5001/api/v0"],
  ["/ip4/127.0.0.1/tcp/5001/http", "http://127.0.0.1:5001/api/v0"],
  ["/ip4/192.168.1.20/tcp/443/https", "https://192.168.1.20/api/v0"],
  ["/ip4/192.168.1.20/tcp/8443/tls/http", "https://192.168.1.20:8443/api/v0"],
  ["/ip4/0.0.0.0/tcp/5001", "http://127.0.0.1:5001/api/v0"],
  ["/ip6/::1/tcp/5001", "http://[::1]:5001/api/v0"],
  ["/ip6/::/tcp/5001", "http://[::1]:5001/api/v0"],
  ["/ip6/2001:db8::7/tcp/5001", "http://[2001:db8::7]:5001/api/v0"],
  ["/dns4/localhost/tcp/5001/http", "http://localhost:5001/api/v0"],
  ["/dns6/ipfs.example.com/tcp/5001", "http://ipfs.example.com:5001/api/v0"],
  ["/dns/IPFS.example.com/tcp/80/http", "http://ipfs.example.com/api/v0"],
];

for (const [input, expected] of VALID) {
  testEachStrategy(`Kubo address: ${String(input).trim()} is ${expected}`, () => {
    assert.equal(parseKuboApiAddress(input).href, expected);
  });
}

const INVALID: Array<[unknown, RegExp]> = [
  ["", /it is empty/],
  ["   ", /it is empty/],
  ["127.0.0.1:5001", /expected an http\(s\) URL or a multiaddress/],
  ["ftp://127.0.0.1:5001", /scheme must be http or https/],
  ["http://user:secret@127.0.0.1:5001", /credentials in the URL are not supported/],
  ["http://127.0.0.1:5001/?x=1", /must not have a query or a fragment/],
  ["http://127.0.0.1:99999", /not a valid URL/],
  ["/ip4/127.0.0.1", /go on with \/tcp\/<port>/],
  ["/ip4/127.0.0.1/udp/5001", /go on with \/tcp\/<port>/],
  ["/ip4/256.0.0.1/tcp/5001", /\/ip4 needs an IPv4 address/],
  ["/ip4/1.2.3/tcp/5001", /\/ip4 needs an IPv4 address/],
  ["/ip4/01.2.3.4/tcp/5001", /\/ip4 needs an IPv4 address/],
  ["/ip6/not:an:ip::x/tcp/5001", /\/ip6 needs an IPv6 address/],
  ["/ip6/127.0.0.1/tcp/5001", /\/ip6 needs an IPv6 address/],
  ["/dns4/bad_host!/tcp/5001", /\/dns4 needs a host name/],
  ["/ip4/127.0.0.1/tcp/65536", /port from 0 to 65535/],
  ["/ip4/127.0.0.1/tcp/http", /port from 0 to 65535/],
  ["/ip4/127.0.0.1/tcp/5001/ws", /unsupported protocols after the port: \/ws/],
  ["/ip4/127.0.0.1/tcp/5001/p2p/12D3KooW", /unsupported protocols after the port/],
  ["/unix/run/ipfs.sock", /Unix socket API addresses are not supported/],
  ["/quic/127.0.0.1", /expected \/ip4, \/ip6, \/dns, \/dns4 or \/dns6 first/],
  ["/ip4//tcp/5001", /no empty components/],
  [5001, /expected a string or a URL: received number/],
  [null, /expected a string or a URL: received null/],
];

for (const [input, message] of INVALID) {
  testEachStrategy(`Kubo address: ${JSON.stringify(input)} is refused`, () => {
    assert.throws(() => parseKuboApiAddress(input as string), (error) => {
      assert.ok(error instanceof InvalidInputError);
      assert.match(error.message, /^Cannot parse Kubo API address: /);
      assert.match(error.message, message);
      return true;
    });
  });
}

testEachStrategy("Kubo address: the api file of a repository", async () => {
  const repo = await Deno.makeTempDir({ prefix: "ipfs-kit-api-file-" });
  try {
    await assert.rejects(readKuboApiFile({ ipfsPath: repo }), (error) => {
      assert.ok(error instanceof UnreachableError);
      assert.equal(error.address, `${repo}/api`);
      assert.match(error.message, /is the daemon running\?/);
      return true;
    });
    await Deno.writeTextFile(`${repo}/api`, "/ip4/127.0.0.1/tcp/45001\n");
    assert.equal(
      (await readKuboApiFile({ ipfsPath: `${repo}/` })).href,
      "http://127.0.0.1:45001/api/v0",
    );
    await Deno.writeTextFile(`${repo}/api`, "\n  http://localhost:5002 \n");
    assert.equal((await readKuboApiFile({ ipfsPath: repo })).href, "http://localhost:5002/api/v0");
    await Deno.writeTextFile(`${repo}/api`, "\n\n");
    await assert.rejects(readKuboApiFile({ ipfsPath: repo }), /is empty/);
    await Deno.writeTextFile(`${repo}/api`, "/ip4/127.0.0.1/udp/1");
    await assert.rejects(readKuboApiFile({ ipfsPath: repo }), (error) => {
      assert.ok(error instanceof InvalidInputError);
      assert.match(
        error.message,
        /^Cannot read Kubo API file: .*\/api: Cannot parse Kubo API address/,
      );
      return true;
    });
    await assert.rejects(readKuboApiFile({ ipfsPath: "" }), InvalidInputError);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});

testEachStrategy("Kubo address: the api file is found through IPFS_PATH", async () => {
  const repo = await Deno.makeTempDir({ prefix: "ipfs-kit-api-file-" });
  const saved = Deno.env.get("IPFS_PATH");
  try {
    await Deno.writeTextFile(`${repo}/api`, "/ip4/127.0.0.1/tcp/45003");
    Deno.env.set("IPFS_PATH", repo);
    assert.equal((await readKuboApiFile()).href, "http://127.0.0.1:45003/api/v0");
  } finally {
    if (saved === undefined) Deno.env.delete("IPFS_PATH");
    else Deno.env.set("IPFS_PATH", saved);
    await Deno.remove(repo, { recursive: true });
  }
});
