package io.embedseal.bench;

import io.embedseal.control.KeyEventAuthor;
import io.embedseal.control.KeyEventGate;
import io.embedseal.control.KeyEventSignatures;
import io.embedseal.control.KeyEvents;
import io.embedseal.control.TrustedSigners;
import io.embedseal.keyring.KekNaming;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.schemas.KeyEventType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a reader pays per key event: {@code admit} is the whole gate (decode, look up the signer, verify the Ed25519
 * signature with the public key, the tenant's rules, apply) on a fresh directory each time, so it includes making
 * the directory; {@code verifyOnly} is the signature check alone. No KMS call is made on this path.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
public class KeyEventVerifyBenchmark {

    private TrustedSigners trusted;
    private byte[] registered;
    private KeyEvents.Read read;
    private com.google.crypto.tink.subtle.Ed25519Verify tinkVerify;

    @Setup
    public void setUp() throws IOException {
        Path dir = Files.createTempDirectory("embedseal-bench-signing");
        KeyEventAuthor operator = KeyEventAuthor.creatingKey(
                new LocalKms(dir).signingKeys().orElseThrow(), "embedseal-operator-signing", "bench");
        trusted = TrustedSigners.of(operator.signer().publicKey());
        registered = operator.next("acme", KeyEventType.REGISTERED, "vault", "tenant-acme", 1);
        read = KeyEvents.read("acme", registered);
        byte[] spki = operator.signer().publicKey().getEncoded();
        tinkVerify = new com.google.crypto.tink.subtle.Ed25519Verify(
                java.util.Arrays.copyOfRange(spki, spki.length - 32, spki.length));
    }

    @Benchmark
    public KeyEventGate.Decision admit() {
        KeyEventGate gate =
                new KeyEventGate(new TenantDirectory(KekNaming.defaults()), trusted, KeyEventGate.Mode.REQUIRED);
        KeyEventGate.Decision d = gate.admit("acme", registered);
        if (!d.applied()) {
            throw new IllegalStateException(d.describe());
        }
        return d;
    }

    /** The same Ed25519 check with Tink's implementation, for comparison with the JDK's. */
    @Benchmark
    public boolean verifyTink() {
        try {
            tinkVerify.verify(read.signature(), KeyEventSignatures.message(read.eventBytes()));
            return true;
        } catch (java.security.GeneralSecurityException e) {
            return false;
        }
    }

    @Benchmark
    public boolean verifyOnly() {
        return KeyEventSignatures.verify(trusted.get(read.signer()), read.eventBytes(), read.signature());
    }
}
