package camundaworkers.engine;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Collections;
import java.util.Enumeration;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.env.Environment;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Optional authentication for the REST API.
 *
 * <p>{@code engine.auth=basic} (env {@code ENGINE_AUTH=basic}) registers the engine's own
 * {@code ProcessEngineAuthenticationFilter} with {@code HttpBasicAuthenticationProvider} for
 * {@code /engine-rest/*} (classes looked up by name, so this works for Camunda and Operaton).
 *
 * <p>{@code engine.auth-token=XYZ} (env {@code ENGINE_AUTH_TOKEN}) additionally accepts
 * {@code Authorization: Bearer XYZ} as the admin user (it also switches basic auth on).
 * The bearer token is translated into the admin user's basic credentials before the engine
 * filter sees the request, so the engine's authentication path is the same.
 */
@Configuration(proxyBeanMethods = false)
class AuthConfig {

  static final String REST_PATTERN = "/engine-rest/*";

  static boolean authEnabled(Environment env) {
    String auth = env.getProperty("engine.auth", "none").trim();
    if (auth.equalsIgnoreCase("basic")) {
      return true;
    }
    if (!auth.isEmpty() && !auth.equalsIgnoreCase("none") && !auth.equalsIgnoreCase("off")
        && !auth.equalsIgnoreCase("false")) {
      throw new IllegalArgumentException("engine.auth must be 'basic' or 'none', not '" + auth + "'");
    }
    return !env.getProperty("engine.auth-token", "").isBlank();
  }

  @Bean
  FilterRegistrationBean<Filter> engineAuthenticationFilter(Environment env) throws Exception {
    Flavour flavour = Flavour.current();
    FilterRegistrationBean<Filter> reg = new FilterRegistrationBean<>();
    reg.setName("engine-rest-authentication");
    reg.setEnabled(authEnabled(env));
    reg.setFilter((Filter) flavour.load("engine.rest.security.auth.ProcessEngineAuthenticationFilter")
        .getDeclaredConstructor().newInstance());
    reg.addInitParameter("authentication-provider",
        flavour.basePackage + ".engine.rest.security.auth.impl.HttpBasicAuthenticationProvider");
    reg.addUrlPatterns(REST_PATTERN);
    reg.setOrder(Ordered.HIGHEST_PRECEDENCE + 20);
    return reg;
  }

  @Bean
  FilterRegistrationBean<Filter> bearerTokenFilter(Environment env) {
    String token = env.getProperty("engine.auth-token", "").trim();
    String user = env.getProperty("engine.admin.id", "demo");
    String password = env.getProperty("engine.admin.password", "demo");
    FilterRegistrationBean<Filter> reg = new FilterRegistrationBean<>();
    reg.setName("engine-rest-bearer-token");
    reg.setEnabled(!token.isEmpty() && authEnabled(env));
    reg.setFilter(new BearerToBasicFilter(token, user, password));
    reg.addUrlPatterns(REST_PATTERN);
    reg.setOrder(Ordered.HIGHEST_PRECEDENCE + 10);
    return reg;
  }

  /** Replaces {@code Authorization: Bearer <token>} by the admin user's basic credentials. */
  static final class BearerToBasicFilter extends OncePerRequestFilter {
    private final byte[] token;
    private final String basic;

    BearerToBasicFilter(String token, String user, String password) {
      this.token = token.getBytes(StandardCharsets.UTF_8);
      this.basic = "Basic " + Base64.getEncoder()
          .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response,
        FilterChain chain) throws ServletException, IOException {
      String header = request.getHeader("Authorization");
      if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
        byte[] given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        if (token.length > 0 && MessageDigest.isEqual(token, given)) {
          request = new HttpServletRequestWrapper(request) {
            @Override
            public String getHeader(String name) {
              return "Authorization".equalsIgnoreCase(name) ? basic : super.getHeader(name);
            }

            @Override
            public Enumeration<String> getHeaders(String name) {
              return "Authorization".equalsIgnoreCase(name)
                  ? Collections.enumeration(Collections.singletonList(basic))
                  : super.getHeaders(name);
            }
          };
        }
      }
      chain.doFilter(request, response);
    }
  }
}
