// A stand-in for @anthropic-ai/claude-code/cli.js run by the real node binary.
// Says "ready", then idles until killed (or 120 s pass). It deliberately does not set
// process.title, like the npm installs whose title still reads "node".
process.stdout.write("ready\n");
setTimeout(() => process.exit(0), Number(process.env.FAKE_AGENT_LIFETIME || "120") * 1000);
