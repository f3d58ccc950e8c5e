package camundaworkers.engine;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** A setting the engine cannot start with: what is wrong and how to fix it, no stack trace. */
final class SettingsException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  final String action;

  SettingsException(String problem, String action) {
    super(problem);
    this.action = action;
  }

  /** Spring Boot shows this as "APPLICATION FAILED TO START: Description / Action". */
  public static final class Analyzer extends AbstractFailureAnalyzer<SettingsException> {
    @Override
    protected FailureAnalysis analyze(Throwable root, SettingsException cause) {
      return new FailureAnalysis(cause.getMessage(), cause.action, null);
    }
  }
}
