package camundaworkers.engine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.env.Environment;

/**
 * An external database for the engine: {@code engine.db-url} (env {@code ENGINE_DB_URL}, a
 * {@code jdbc:postgresql://host:port/db} URL), {@code engine.db-user} ({@code ENGINE_DB_USER},
 * default {@code camunda}) and {@code engine.db-password-file} ({@code ENGINE_DB_PASSWORD_FILE},
 * e.g. a Docker secret): the password is read from the file, never from the environment.
 *
 * <p>Before the engine starts this waits for the database ({@code engine.db-wait} seconds,
 * default 300: Swarm starts services in no order), then looks at the schema: none yet, the
 * engine creates it ({@code schema-update=true}); present, the engine only checks it
 * ({@code schema-update=false}) after this class has compared its version with the engine's
 * (a schema older than the engine needs the upgrade scripts first, see engine/README.md).
 */
final class DatabaseSettings {
  private static final Logger LOG = LoggerFactory.getLogger(EngineApplication.class);
  private static final Pattern SCHEMA_LOG_VERSION =
      Pattern.compile("ACT_GE_SCHEMA_LOG\\s+values\\s*\\(\\s*'0'\\s*,\\s*CURRENT_TIMESTAMP\\s*,\\s*'([^']+)'",
          Pattern.CASE_INSENSITIVE);

  private DatabaseSettings() {}

  /** Adds the datasource and schema properties of {@code engine.db-url} to {@code props}. */
  static void apply(Environment env, Flavour flavour, Map<String, Object> props) {
    String url = env.getProperty("engine.db-url", "").trim();
    if (url.isEmpty()) {
      return;
    }
    if (!url.startsWith("jdbc:postgresql:")) {
      throw new SettingsException("engine.db-url (ENGINE_DB_URL) is '" + url
          + "', not a PostgreSQL JDBC URL",
          "Give jdbc:postgresql://HOST:PORT/DATABASE, or leave it empty for the embedded H2.");
    }
    if (!env.getProperty("engine.db-file", "").isBlank()) {
      throw new SettingsException("engine.db-url and engine.db-file are both set",
          "Give one: PostgreSQL (ENGINE_DB_URL) or a file-backed H2 (ENGINE_DB_FILE).");
    }
    String user = env.getProperty("engine.db-user", "camunda").trim();
    String password = readPassword(env.getProperty("engine.db-password-file", "").trim());
    props.put("spring.datasource.url", url);
    props.put("spring.datasource.username", user);
    props.put("spring.datasource.password", password);
    props.put("spring.datasource.driver-class-name", "org.postgresql.Driver");
    String prefix = flavour.id + ".bpm.database.";
    props.put(prefix + "type", "postgres");

    long waitSeconds = env.getProperty("engine.db-wait", Long.class, 300L);
    String present = waitAndReadSchemaVersion(url, user, password, waitSeconds);
    if (present == null) {
      LOG.info("database {}: empty, the engine creates its schema", url);
      props.put(prefix + "schema-update", "true");
      return;
    }
    String expected = expectedSchemaVersion(flavour);
    if (!minor(present).equals(minor(expected))) {
      throw new SettingsException("database " + url + " holds the schema of engine " + present
          + "; this engine (" + flavour.engineVersion() + ") needs " + expected,
          "Run the engine's upgrade scripts on the database first (make db-upgrade, see "
              + "engine/README.md), or start the engine version the schema belongs to.");
    }
    LOG.info("database {}: schema {} present, checked by the engine", url, present);
    props.put(prefix + "schema-update", "false");
  }

  private static String readPassword(String file) {
    if (file.isEmpty()) {
      throw new SettingsException("engine.db-url is set but engine.db-password-file is not",
          "Set ENGINE_DB_PASSWORD_FILE (--engine.db-password-file) to the file holding the "
              + "database password, e.g. /run/secrets/db_password.");
    }
    try {
      String text = Files.readString(Path.of(file), StandardCharsets.UTF_8);
      return text.replaceAll("[\r\n]+$", "");
    } catch (NoSuchFileException e) {
      throw new SettingsException("engine.db-password-file " + file + " does not exist",
          "Point ENGINE_DB_PASSWORD_FILE at the password file (a Docker secret: "
              + "/run/secrets/NAME, with the secret listed under the service's secrets).");
    } catch (IOException e) {
      throw new SettingsException("engine.db-password-file " + file + " cannot be read ("
          + e.getMessage() + ")", "Make the file readable by the engine's user.");
    }
  }

  /** The schema version in the database, null if it has no engine tables yet. */
  private static String waitAndReadSchemaVersion(String url, String user, String password,
      long waitSeconds) {
    long deadline = System.nanoTime() + waitSeconds * 1_000_000_000L;
    long pauseMillis = 500;
    DriverManager.setLoginTimeout(10);
    while (true) {
      try (Connection connection = DriverManager.getConnection(url, user, password)) {
        return schemaVersion(connection);
      } catch (SQLException e) {
        if (System.nanoTime() > deadline) {
          throw new SettingsException("database " + url + " did not answer within "
              + waitSeconds + " s: " + e.getMessage(),
              "Check that the database runs and that the user and password are right; "
                  + "engine.db-wait (ENGINE_DB_WAIT) sets how long to wait, in seconds.");
        }
        LOG.warn("database {} not ready ({}); retrying in {} ms", url, e.getMessage(), pauseMillis);
      }
      try {
        Thread.sleep(pauseMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the database", e);
      }
      pauseMillis = Math.min(pauseMillis * 2, 5_000);
    }
  }

  private static String schemaVersion(Connection connection) throws SQLException {
    try (PreparedStatement tables = connection.prepareStatement(
        "select count(*) from information_schema.tables"
            + " where table_schema = current_schema() and table_name = 'act_ge_schema_log'");
        ResultSet found = tables.executeQuery()) {
      found.next();
      if (found.getInt(1) == 0) {
        return null;
      }
    }
    // the highest version logged: one upgrade run writes several rows with the same timestamp
    String highest = null;
    try (PreparedStatement versions = connection.prepareStatement(
        "select version_ from act_ge_schema_log");
        ResultSet rows = versions.executeQuery()) {
      while (rows.next()) {
        String version = rows.getString(1);
        if (highest == null || compareVersions(version, highest) > 0) {
          highest = version;
        }
      }
    }
    return highest;
  }

  static int compareVersions(String a, String b) {
    String[] left = a.split("[.-]");
    String[] right = b.split("[.-]");
    for (int i = 0; i < Math.max(left.length, right.length); i++) {
      int l = i < left.length ? numberOrZero(left[i]) : 0;
      int r = i < right.length ? numberOrZero(right[i]) : 0;
      if (l != r) {
        return Integer.compare(l, r);
      }
    }
    return 0;
  }

  private static int numberOrZero(String part) {
    try {
      return Integer.parseInt(part);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** The version the engine's own PostgreSQL create script writes into ACT_GE_SCHEMA_LOG. */
  static String expectedSchemaVersion(Flavour flavour) {
    String resource = flavour.basePackage.replace('.', '/') + "/engine/db/create/activiti.postgres.create.engine.sql";
    try (InputStream in = Flavour.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(resource + " missing from the engine jar");
      }
      Matcher m = SCHEMA_LOG_VERSION.matcher(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      if (!m.find()) {
        throw new IllegalStateException(resource + ": no ACT_GE_SCHEMA_LOG version");
      }
      return m.group(1);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + resource, e);
    }
  }

  /** "7.24.0" -> "7.24" (patch levels share a schema, their fixes are patch scripts). */
  private static String minor(String version) {
    String[] parts = version.split("\\.");
    return parts.length < 2 ? version : parts[0] + "." + parts[1];
  }
}
