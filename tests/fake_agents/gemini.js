// A stand-in for Gemini CLI's bin/gemini run by the real node. Like the real one, the first process
// re-launches itself as a child (`node --max-old-space-size=N <script> args…`, with
// GEMINI_CLI_NO_RELAUNCH=true) and waits for it; the launcher prints the child's pid once the child
// is ready. The child says "ready" and idles until killed (or FAKE_AGENT_LIFETIME seconds pass).
const { spawn } = require("node:child_process");
const lifetime = Number(process.env.FAKE_AGENT_LIFETIME || "120") * 1000;
if (process.env.GEMINI_CLI_NO_RELAUNCH) {
  process.stdout.write("ready\n");
  setTimeout(() => process.exit(0), lifetime);
} else {
  const args = ["--max-old-space-size=256", process.argv[1], ...process.argv.slice(2)];
  const env = { ...process.env, GEMINI_CLI_NO_RELAUNCH: "true" };
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"], env });
  let said = false;
  child.stdout.on("data", () => {
    if (!said) {
      said = true;
      process.stdout.write(`${child.pid}\n`);
    }
  });
  child.on("exit", (code) => process.exit(code ?? 1));
}
