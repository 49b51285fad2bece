// A stand-in for ~/.local/share/cursor-agent/versions/<ver>/index.js, run by the bundled node that
// the `cursor-agent` bash wrapper exec's. A session starts its `index.js worker-server` helper child
// (as the real CLI does) and prints "ready <helper pid>"; the helper, and any other subcommand,
// just says "ready" and idles until killed (or FAKE_AGENT_LIFETIME seconds pass).
const { spawn } = require("node:child_process");
const lifetime = Number(process.env.FAKE_AGENT_LIFETIME || "120") * 1000;
setTimeout(() => process.exit(0), lifetime);
const sub = process.argv[2];
if (sub === "worker-server" || sub === "worker") {
  process.stdout.write("ready\n");
} else {
  const helper = spawn(process.execPath, [__filename, "worker-server"], { stdio: ["ignore", "pipe", "ignore"] });
  helper.stdout.once("data", () => process.stdout.write(`ready ${helper.pid}\n`));
}
