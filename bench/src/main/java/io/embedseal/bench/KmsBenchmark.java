package io.embedseal.bench;

import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.kms.testsupport.SoftHsm;
import io.embedseal.kms.testsupport.VaultTransitStandIn;
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
 * Latency of one DEK wrap and one DEK unwrap per KMS provider, through the same code the pipeline uses
 * ({@link KmsProviders}). Sample-time mode: JMH reports the median and p99 of single calls.
 *
 * <ul>
 *   <li>{@code local}: Tink keyset files (read on every call, as the provider does);</li>
 *   <li>{@code pkcs11}: a SoftHSM2 token through SunPKCS11; needs {@code SOFTHSM2_CONF} set to a writable
 *       path, where a fresh token is initialised;</li>
 *   <li>{@code vault-standin}: the Vault Transit stand-in over loopback HTTP. This measures embedseal's
 *       client side (HTTP, JSON, base64) plus a trivial server, not a real Vault.</li>
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

    @Param({"local", "pkcs11", "vault-standin"})
    public String provider;

    private KmsProvider kms;
    private VaultTransitStandIn vault;
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
                                    + "to benchmark pkcs11 on SoftHSM2, or pass -p provider=local,vault-standin");
                }
                settings.putAll(SoftHsm.sharedToken().settings());
            }
            case "vault-standin" -> {
                vault = VaultTransitStandIn.start();
                settings.put("kms.provider", "vault");
                settings.put("kms.vault.address", vault.address());
            }
            default -> throw new IllegalArgumentException(provider);
        }
        kms = KmsProviders.create(KeyringSettings.of(settings, name -> VaultTransitStandIn.ROOT_TOKEN));
        kms.createKek(KEY);
        wrapped = kms.wrapDek(KEY, dek, aad);
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
        return kms.wrapDek(KEY, dek, aad);
    }

    @Benchmark
    public byte[] unwrap() {
        return kms.unwrapDek(wrapped.kek(), wrapped.wrapped(), aad);
    }
}
