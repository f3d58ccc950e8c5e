package camundaworkers.engine;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * Development/test process engine: Camunda 7 (default build) or Operaton
 * ({@code -Poperaton}) with the REST API under {@code /engine-rest}.
 *
 * <p>All engine configuration lives in {@code application.yaml}; the Java code
 * here only uses engine classes by name (see {@link Flavour}) so the same
 * sources compile against both engines.
 */
@SpringBootApplication(excludeName = {
    "org.springframework.boot.autoconfigure.jmx.JmxAutoConfiguration",
    "org.springframework.boot.autoconfigure.websocket.servlet.WebSocketServletAutoConfiguration",
    "org.springframework.boot.autoconfigure.task.TaskSchedulingAutoConfiguration",
    "org.springframework.boot.autoconfigure.sql.init.SqlInitializationAutoConfiguration",
})
public class EngineApplication {

  public static void main(String[] args) {
    SpringApplication app = new SpringApplication(EngineApplication.class);
    app.addListeners(new EngineSettings());
    app.run(args);
  }
}
