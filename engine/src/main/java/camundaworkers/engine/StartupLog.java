package camundaworkers.engine;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/** One INFO line once the engine and REST API are up. */
@Component
class StartupLog implements ApplicationListener<ApplicationReadyEvent> {
  private static final Logger LOG = LoggerFactory.getLogger(EngineApplication.class);

  @Override
  public void onApplicationEvent(ApplicationReadyEvent event) {
    Environment env = event.getApplicationContext().getEnvironment();
    Flavour f = Flavour.current();
    String port = env.getProperty("local.server.port", env.getProperty("server.port", "?"));
    LOG.info("engine ready: flavour={} version={} rest=http://localhost:{}/engine-rest auth={} db={}",
        f.id, f.engineVersion(), port, AuthConfig.authEnabled(env)
            ? (env.getProperty("engine.auth-token", "").isBlank() ? "basic" : "basic+bearer") : "none",
        env.getProperty("spring.datasource.url"));
  }
}
