package camundaworkers.engine;

import org.springframework.util.ClassUtils;

/** Which engine is on the class path: Camunda 7 (org.camunda.bpm) or Operaton (org.operaton.bpm). */
enum Flavour {
  CAMUNDA("camunda", "org.camunda.bpm"),
  OPERATON("operaton", "org.operaton.bpm");

  final String id;
  /** Base Java package of the engine, e.g. {@code org.camunda.bpm}. */
  final String basePackage;

  Flavour(String id, String basePackage) {
    this.id = id;
    this.basePackage = basePackage;
  }

  static Flavour current() {
    ClassLoader cl = Flavour.class.getClassLoader();
    for (Flavour f : values()) {
      if (ClassUtils.isPresent(f.basePackage + ".engine.ProcessEngine", cl)) {
        return f;
      }
    }
    throw new IllegalStateException("neither Camunda 7 nor Operaton engine on the class path");
  }

  /** Loads an engine class by its name relative to the base package, e.g. "engine.ProcessEngine". */
  Class<?> load(String relativeName) {
    try {
      return ClassUtils.forName(basePackage + "." + relativeName, Flavour.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Engine version from the jar manifest, e.g. 7.24.0, or "unknown". */
  String engineVersion() {
    Package p = load("engine.ProcessEngine").getPackage();
    String v = p == null ? null : p.getImplementationVersion();
    return v == null ? "unknown" : v;
  }
}
