package camundaworkers.engine;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.springframework.boot.context.event.ApplicationEnvironmentPreparedEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * Turns the short {@code engine.*} switches into Spring/engine properties before
 * the context starts.
 *
 * <ul>
 *   <li>{@code engine.db-file=/some/dir/engine} (env {@code ENGINE_DB_FILE}): file-backed H2
 *       database at that path (H2 appends {@code .mv.db}); data survives an engine restart.
 *       Takes precedence over {@code spring.datasource.url}.</li>
 *   <li>{@code engine.db-url} (env {@code ENGINE_DB_URL}): PostgreSQL, see {@link DatabaseSettings}.</li>
 *   <li>{@code engine.auth} is checked ({@code basic} or {@code none}), see {@link AuthConfig}.</li>
 *   <li>{@code engine.flavour} is set to {@code camunda} or {@code operaton} for logging.</li>
 * </ul>
 */
class EngineSettings implements ApplicationListener<ApplicationEnvironmentPreparedEvent> {

  @Override
  public void onApplicationEvent(ApplicationEnvironmentPreparedEvent event) {
    ConfigurableEnvironment env = event.getEnvironment();
    AuthConfig.authEnabled(env); // fail fast on a wrong engine.auth value
    Map<String, Object> props = new HashMap<>();
    props.put("engine.flavour", Flavour.current().id);

    String dbFile = env.getProperty("engine.db-file", "").trim();
    if (!dbFile.isEmpty()) {
      String path = Path.of(dbFile).toAbsolutePath().normalize().toString();
      // DB_CLOSE_ON_EXIT=FALSE: Spring closes the pool on shutdown, H2's own
      // shutdown hook must not close the database underneath the engine first.
      props.put("spring.datasource.url", "jdbc:h2:file:" + path + ";DB_CLOSE_ON_EXIT=FALSE");
    }
    DatabaseSettings.apply(env, Flavour.current(), props);
    env.getPropertySources().addFirst(new MapPropertySource("engineSettings", props));
  }
}
