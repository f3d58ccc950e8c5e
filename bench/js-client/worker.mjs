// The official JavaScript external-task client as a variant of bench/throughput.py.
//
//   node bench/js-client/worker.mjs ENGINE_URL TOPIC SETTINGS_JSON
//
// SETTINGS_JSON: maxTasks, maxParallelExecutions, interval, asyncResponseTimeout (the
// client's own options, passed as they are) and waitMs (the handler waits that long
// without CPU). Everything else is the client's default. Speaks the protocol of
// bench/py_workers.py on stdout: "READY <epoch us>" and "T <process instance id> <epoch us>".
import { writeSync } from "node:fs";
import { Client } from "camunda-external-task-client-js";

const [url, topic, settingsJson] = process.argv.slice(2);
const { waitMs, ...options } = JSON.parse(settingsJson);

const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const report = (line) => writeSync(1, `${line}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// autoPoll: false only so that READY is written before the first poll; start() below.
const client = new Client({ baseUrl: url, workerId: "bench-js", autoPoll: false, ...options });

client.subscribe(topic, async ({ task, taskService }) => {
  report(`T ${task.processInstanceId} ${nowMicros()}`);
  if (waitMs) {
    await sleep(waitMs);
  }
  await taskService.complete(task);
});

client.on("poll:error", (error) => console.error(`poll error: ${error}`));
client.on("complete:error", (_task, error) => console.error(`complete error: ${error}`));

report(`READY ${nowMicros()}`);
client.start();
process.on("SIGTERM", () => process.exit(0));
