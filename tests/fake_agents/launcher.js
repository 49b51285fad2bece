// A stand-in npm launcher (Codex's bin/codex.js, Copilot's npm-loader.js) run by the real node:
// start the native agent given as JSON in FAKE_CHILD_ARGV as a child, print its pid once it is
// ready, then wait for it and exit with its code. Without FAKE_CHILD_ARGV it is the agent itself
// (a JS-only install): it says "ready" and idles.
const { spawn } = require("node:child_process");
const lifetime = Number(process.env.FAKE_AGENT_LIFETIME || "120") * 1000;
const childArgv = process.env.FAKE_CHILD_ARGV ? JSON.parse(process.env.FAKE_CHILD_ARGV) : null;
if (!childArgv) {
  process.stdout.write("ready\n");
  setTimeout(() => process.exit(0), lifetime);
} else {
  const env = { ...process.env, CODEX_MANAGED_BY_NPM: "1" };
  delete env.FAKE_CHILD_ARGV;
  const child = spawn(childArgv[0], childArgv.slice(1), { stdio: ["ignore", "pipe", "ignore"], env });
  let said = false;
  child.stdout.on("data", () => {
    if (!said) {
      said = true;
      process.stdout.write(`${child.pid}\n`);
    }
  });
  child.on("exit", (code) => process.exit(code ?? 1));
}
