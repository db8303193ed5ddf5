package io.embedseal.kms.testsupport;

import io.embedseal.openbao.dev.OpenBaoDevServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * <b>Test code.</b> A real Vault API for the tests: OpenBao's {@code bao server -dev}, one per test JVM (started on
 * first use, stopped at exit), like the shared broker. Each test class takes a {@link Namespace} of its own, with
 * Transit mounted at {@code transit/} and the operator's policies from {@code deploy/vault/*.hcl} loaded as they
 * are, so classes never see each other's keys and every request carries {@code X-Vault-Namespace}.
 *
 * <p>Without {@code bao} the calling test is skipped with a message saying what to install, unless
 * {@value #REQUIRE_ENV}{@code =1} (as CI sets it), which makes it a failure.
 */
public final class OpenBao {

    /** Set to 1 (CI does) to fail, not skip, the tests that need OpenBao when it is missing. */
    public static final String REQUIRE_ENV = "EMBEDSEAL_REQUIRE_OPENBAO";

    /** The policies operators are told to write, by role: deploy/vault/embedseal-{role}.hcl. */
    public static final List<String> ROLES = List.of("pipeline", "sink", "operator");

    private static @Nullable OpenBaoDevServer shared;

    private OpenBao() {}

    /** The {@code bao} binary, or skips (fails under {@value #REQUIRE_ENV}=1) the calling test. */
    public static Path binary() {
        return OpenBaoDevServer.findBinary().orElseGet(() -> {
            String message = "needs OpenBao's bao binary (a real Vault API); " + OpenBaoDevServer.INSTALL_HINT;
            if ("1".equals(System.getenv(REQUIRE_ENV))) {
                Assertions.fail(message + "; " + REQUIRE_ENV + "=1 makes this a failure");
            }
            Assumptions.abort(message);
            throw new AssertionError("unreachable");
        });
    }

    /** The test JVM's server (plain http on loopback), started on first use. Do not seal or stop it. */
    public static synchronized OpenBaoDevServer shared() {
        Path binary = binary();
        if (shared == null || !shared.isAlive()) {
            // Stopped when the JVM exits, however it exits (the server's own hook and watcher).
            shared = OpenBaoDevServer.start(binary, tempDir("embedseal-openbao-"), false);
        }
        return shared;
    }

    /** A server of the caller's own (to seal, stop or serve TLS); the caller closes it. */
    public static OpenBaoDevServer startOwn(boolean tls) {
        return OpenBaoDevServer.start(binary(), tempDir("embedseal-openbao-own-"), tls);
    }

    /**
     * A fresh namespace on the shared server, with Transit, the deploy/vault policies and each role's audit key
     * ({@code audit-pipeline}, {@code audit-sink}, {@code audit-operator}).
     */
    public static Namespace namespace() {
        return namespace(shared());
    }

    /** A fresh namespace on {@code server}, with Transit at {@code transit/} and the deploy/vault policies. */
    public static Namespace namespace(OpenBaoDevServer server) {
        String name = "t" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        server.require("POST", "sys/namespaces/" + name, null, null);
        return withTransitAndPolicies(new Namespace(server, name));
    }

    /** Transit and the deploy/vault policies in the server's root namespace (as a user's dev server has them). */
    public static Namespace root(OpenBaoDevServer server) {
        return withTransitAndPolicies(new Namespace(server, null));
    }

    private static Namespace withTransitAndPolicies(Namespace ns) {
        ns.server().enableTransit(ns.name(), "transit");
        for (String role : ROLES) {
            ns.writePolicy("embedseal-" + role, policyFile(role));
            // Each role's audit-checkpoint key, as deploy/vault/init.sh creates it.
            ns.server().require("POST", "transit/keys/audit-" + role, ns.name(), "{\"type\":\"ed25519\"}");
        }
        return ns;
    }

    /** deploy/vault/embedseal-{role}.hcl of this repository, found from the working directory up. */
    public static Path policyFile(String role) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path f = dir.resolve("deploy/vault/embedseal-" + role + ".hcl");
            if (Files.isRegularFile(f)) {
                return f;
            }
        }
        throw new IllegalStateException("no deploy/vault/embedseal-" + role + ".hcl above "
                + Path.of("").toAbsolutePath());
    }

    private static Path tempDir(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A namespace of the server (null: the root namespace), and what tests do in it with the root token. */
    public static final class Namespace {
        private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
                new com.fasterxml.jackson.databind.ObjectMapper();

        private final OpenBaoDevServer server;
        private final @Nullable String name;

        Namespace(OpenBaoDevServer server, @Nullable String name) {
            this.server = server;
            this.name = name;
        }

        public OpenBaoDevServer server() {
            return server;
        }

        /** The namespace's path, for {@code kms.vault.namespace}; null for the root namespace. */
        public @Nullable String name() {
            return name;
        }

        /** Writes a policy from a file, unchanged. */
        public void writePolicy(String policy, Path hclFile) {
            try {
                writePolicyText(policy, Files.readString(hclFile, StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        public void writePolicyText(String policy, String hcl) {
            server.require("PUT", "sys/policies/acl/" + policy, name, json(Map.of("policy", hcl)));
        }

        /** A new token under these policies (and the default policy), valid for an hour. */
        public String token(String... policies) {
            return token(Duration.ofHours(1), policies);
        }

        /** A new token under these policies (and the default policy), valid for {@code ttl}. */
        public String token(Duration ttl, String... policies) {
            return token(ttl, true, policies);
        }

        /**
         * A new token under these policies, valid for {@code ttl}; without the default policy when {@code
         * defaultPolicy} is false (as {@code token_no_default_policy} on an auth role makes them).
         */
        public String token(Duration ttl, boolean defaultPolicy, String... policies) {
            return createToken(Map.of(
                    "policies",
                    List.of(policies),
                    "no_default_policy",
                    !defaultPolicy,
                    "ttl",
                    ttl.toSeconds() + "s",
                    "explicit_max_ttl",
                    ttl.toSeconds() + "s"));
        }

        /** A periodic token under these policies: renewable, it lives one {@code period} after each renewal. */
        public String periodicToken(Duration period, String... policies) {
            return createToken(Map.of("policies", List.of(policies), "period", period.toSeconds() + "s"));
        }

        private String createToken(Map<String, Object> request) {
            String body = server.require("POST", "auth/token/create", name, json(request));
            try {
                String token =
                        JSON.readTree(body).path("auth").path("client_token").asText("");
                if (token.isEmpty()) {
                    throw new IllegalStateException("no client_token in OpenBao's answer to auth/token/create");
                }
                return token;
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException("OpenBao's answer to auth/token/create is not JSON", e);
            }
        }

        /**
         * Waits until the server no longer accepts {@code token} (its TTL or period ran out), at most 30 s: there is
         * nothing to await but the server's clock.
         */
        public void awaitExpiry(String token) throws InterruptedException {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (server.api("GET", "auth/token/lookup-self", name, null, token)
                            .status()
                    == 200) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the token did not expire within 30 s");
                }
                Thread.sleep(100);
            }
        }

        /** The root token: everything is allowed (as the tenant's own Vault admin). */
        public String rootToken() {
            return server.rootToken();
        }

        /** Revokes a token ({@code bao token revoke}). */
        public void revoke(String token) {
            server.require("POST", "auth/token/revoke", name, json(Map.of("token", token)));
        }

        /** Whether the Transit key exists (asked with the root token, bypassing the provider). */
        public boolean hasKey(String key) {
            int status = server.api("GET", "transit/keys/" + key, name, null).status();
            if (status != 200 && status != 404) {
                throw new IllegalStateException("reading transit/keys/" + key + ": HTTP " + status);
            }
            return status == 200;
        }

        /**
         * The provider settings for this namespace, without the token: {@code kms.vault.token-env=VAULT_TOKEN}
         * (give the token through the environment lookup) and, for a plain http server,
         * {@code kms.vault.allow-insecure-http=true}.
         */
        public Map<String, String> settings() {
            Map<String, String> s = new HashMap<>();
            s.put("kms.provider", "vault");
            s.put("kms.vault.address", server.address());
            s.put("kms.vault.token-env", "VAULT_TOKEN");
            if (name != null) {
                s.put("kms.vault.namespace", name);
            }
            Path ca = server.caFile();
            if (ca != null) {
                s.put("kms.vault.ca-file", ca.toString());
            } else {
                s.put("kms.vault.allow-insecure-http", "true");
            }
            return s;
        }

        @Override
        public String toString() {
            return "OpenBao namespace " + (name == null ? "(root)" : name) + " at " + server.address();
        }

        private static String json(Object value) {
            try {
                return JSON.writeValueAsString(value);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException(e);
            }
        }
    }
}
