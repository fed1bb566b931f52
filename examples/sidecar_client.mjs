// A front end in another language: Node drives `execution-engine serve --stdio`
// with the json-rpc-2.0 package. Run: npm ci && node sidecar_client.mjs ["shell command"]
// The sidecar is `$PYTHON -m actors` (PYTHON defaults to python3); a Tauri app would
// start the installed `execution-engine` binary as its sidecar instead.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { JSONRPCClient } from "json-rpc-2.0";

const python = process.env.PYTHON ?? "python3";
const command = process.argv[2] ?? "echo hello from the sidecar; echo a warning >&2";

const sidecar = spawn(python, ["-m", "actors", "serve", "--stdio", "--no-log"], {
  stdio: ["pipe", "pipe", "inherit"],
});

// One JSON object per line each way; the client writes requests to stdin.
const client = new JSONRPCClient((request) => {
  sidecar.stdin.write(JSON.stringify(request) + "\n");
});

// Terminal events by execution id. readline may deliver the execute_command response
// and the execution's events in one tick, before the awaiting code below has run, so
// a waiter looks here first instead of hoping to be registered in time.
const terminals = new Map();
const waiting = new Map();
const TERMINAL = ["completed", "failed", "cancelled"];

function terminalOf(executionId) {
  if (terminals.has(executionId)) return Promise.resolve(terminals.get(executionId));
  return new Promise((resolve) => waiting.set(executionId, resolve));
}

createInterface({ input: sidecar.stdout }).on("line", (line) => {
  const message = JSON.parse(line);
  if (message.method === "execution_event") {
    const event = message.params;
    console.log(`event ${event.seq} ${event.type} ${JSON.stringify(event)}`);
    if (TERMINAL.includes(event.type)) {
      terminals.set(event.execution_id, event);
      waiting.get(event.execution_id)?.(event);
    }
  } else {
    client.receive(message);
  }
});

const exited = new Promise((resolve) => sidecar.on("exit", (code) => resolve(code)));

try {
  const started = await client.request("execute_command", {
    command: { kind: "shell", command },
    labels: { client: "node" },
  });
  const executionId = started.execution_id;
  console.log(`execution ${executionId}`);
  const result = await client.request("get_execution_result", {
    execution_id: executionId,
    wait_ms: 30000,
  });
  await terminalOf(executionId);
  console.log(`result ${JSON.stringify(result)}`);
  try {
    await client.request("get_execution_status", { execution_id: "not-a-uuid" });
  } catch (error) {
    console.log(`error ${error.code} ${error.data.kind}`);
  }
  await client.request("shutdown", {});
  console.log(`sidecar exited ${await exited}`);
} catch (error) {
  console.error(`sidecar client failed: ${error.message}`);
  sidecar.kill("SIGTERM");
  process.exitCode = 1;
}
