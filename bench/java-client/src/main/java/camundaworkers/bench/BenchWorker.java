package camundaworkers.bench;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.camunda.bpm.client.ExternalTaskClient;

/**
 * The official Java external-task client as a variant of bench/throughput.py.
 *
 * <pre>java -cp target/classes:target/lib/* camundaworkers.bench.BenchWorker \
 *     ENGINE_URL TOPIC MAX_TASKS ASYNC_RESPONSE_TIMEOUT_MS WAIT_MS</pre>
 *
 * Sets maxTasks and asyncResponseTimeout; everything else is the client's default (one
 * fetch thread that runs a subscription's handlers one after another, lockDuration 20 s,
 * exponential back-off after empty polls). Speaks the protocol of bench/py_workers.py on
 * stdout: "READY &lt;epoch us&gt;" and "T &lt;process instance id&gt; &lt;epoch us&gt;".
 */
public final class BenchWorker {
  private static final OutputStream OUT = new FileOutputStream(FileDescriptor.out);

  private BenchWorker() {}

  private static synchronized void report(String line) {
    try {
      OUT.write((line + "\n").getBytes(StandardCharsets.UTF_8));  // one write(2) per line
    } catch (IOException e) {
      throw new IllegalStateException("stdout closed", e);
    }
  }

  private static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }

  public static void main(String[] args) throws InterruptedException {
    if (args.length != 5) {
      System.err.println("usage: BenchWorker ENGINE_URL TOPIC MAX_TASKS ASYNC_RESPONSE_TIMEOUT_MS"
          + " WAIT_MS");
      System.exit(2);
    }
    String url = args[0];
    String topic = args[1];
    int maxTasks = Integer.parseInt(args[2]);
    long asyncResponseTimeout = Long.parseLong(args[3]);
    long waitMs = Long.parseLong(args[4]);

    ExternalTaskClient client = ExternalTaskClient.create()
        .baseUrl(url)
        .workerId("bench-java")
        .maxTasks(maxTasks)
        .asyncResponseTimeout(asyncResponseTimeout)
        .build();
    report("READY " + nowMicros());
    client.subscribe(topic)
        .handler((task, service) -> {
          report("T " + task.getProcessInstanceId() + " " + nowMicros());
          if (waitMs > 0) {
            try {
              Thread.sleep(waitMs);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return;
            }
          }
          service.complete(task);
        })
        .open();
    // The client's own thread polls. SIGTERM ends the JVM; no client.stop(), which can
    // wait out a whole long poll (camunda-bpm-platform #3282).
    Thread.currentThread().join();
  }
}
