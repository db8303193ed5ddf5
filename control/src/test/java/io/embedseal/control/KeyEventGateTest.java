package io.embedseal.control;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.control.KeyEventGate.Mode;
import io.embedseal.control.KeyEventGate.Outcome;
import io.embedseal.control.KeyEventGate.Refusal;
import io.embedseal.keyring.KekNaming;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEventType;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rules of the key-event gate, one attack each: first the attack as it worked before signing (the gate in
 * {@link Mode#DISABLED_INSECURE}, which is the old behaviour), then refused with the tenant's state unchanged.
 */
class KeyEventGateTest {

    @TempDir
    Path dir;

    KeyEventAuthor operator;
    KeyEventAuthor mallory; // a key nobody trusts: what an attacker with write access to the topic can sign with
    KeyEventAuthor acmeAuthority; // the key acme keeps in its own KMS

    @BeforeEach
    void keys() {
        LocalKms kms = new LocalKms(dir.resolve("operator"));
        operator = KeyEventAuthor.creatingKey(kms.signingKeys().orElseThrow(), "embedseal-operator-signing", "ops");
        mallory = KeyEventAuthor.creatingKey(
                new LocalKms(dir.resolve("mallory")).signingKeys().orElseThrow(), "mallory", "mallory");
        acmeAuthority = KeyEventAuthor.creatingKey(
                new LocalKms(dir.resolve("acme")).signingKeys().orElseThrow(), "acme-authority", "acme");
    }

    private KeyEventGate gate(Mode mode) {
        return new KeyEventGate(
                new TenantDirectory(KekNaming.defaults()),
                TrustedSigners.of(operator.signer().publicKey()),
                mode);
    }

    private byte[] registerAcme(KeyEventGate g) {
        byte[] v = operator.next("acme", KeyEventType.REGISTERED, "local", "tenant-acme", 1);
        assertThat(g.admit("acme", v).outcome()).isEqualTo(Outcome.APPLIED);
        return v;
    }

    private TenantStatus status(KeyEventGate g, String tenant) {
        TenantState s = g.directory().get(tenant);
        return s == null ? null : s.status();
    }

    @Test
    void forgedRotationToAnotherTenantsKek_isRefused() {
        for (Mode mode : Mode.values()) {
            KeyEventGate g = gate(mode);
            registerAcme(g);
            byte[] forged = mallory.next("acme", KeyEventType.ROTATED, "local", "tenant-mallory", 2);
            KeyEventGate.Decision d = g.admit("acme", forged);
            if (mode == Mode.DISABLED_INSECURE) { // the control: acme would now seal under mallory's key
                assertThat(d.outcome()).isEqualTo(Outcome.APPLIED);
                assertThat(g.directory().kekNameFor("acme")).isEqualTo("tenant-mallory");
            } else {
                assertThat(d.refusal()).isEqualTo(Refusal.UNKNOWN_SIGNER);
                assertThat(g.directory().kekNameFor("acme")).isEqualTo("tenant-acme");
            }
        }
        // Even the operator's own key cannot move a tenant to another KEK by rotation.
        KeyEventGate g = gate(Mode.REQUIRED);
        registerAcme(g);
        byte[] signed = operator.next("acme", KeyEventType.ROTATED, "local", "tenant-mallory", 2);
        assertThat(g.admit("acme", signed).refusal()).isEqualTo(Refusal.OTHER_KEK);
        assertThat(g.directory().kekNameFor("acme")).isEqualTo("tenant-acme");
    }

    @Test
    void migration_movesATenantToAnotherKms_onlyAsItsAuthoritySigns_neverOntoAnotherTenantsKey() {
        String authority = KeyEventSignatures.encode(acmeAuthority.signer().publicKey());
        KeyEventGate g = gate(Mode.REQUIRED);
        assertThat(g.admit(
                                "acme",
                                operator.next("acme", KeyEventType.REGISTERED, "local", "acme-own", 1, null, authority))
                        .outcome())
                .isEqualTo(Outcome.APPLIED);
        assertThat(g.admit("globex", operator.next("globex", KeyEventType.REGISTERED, "vault", "globex-key", 1))
                        .outcome())
                .isEqualTo(Outcome.APPLIED);
        acmeAuthority.continueAfter("acme", 1);
        g.admit("acme", acmeAuthority.next("acme", KeyEventType.REVOKED, "local", "acme-own", 1));

        // The operator cannot move a tenant with its own authority; nobody moves it onto another tenant's key, or
        // "migrates" it to the key it has.
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.MIGRATED, "vault", "acme-vault", 1))
                        .refusal())
                .isEqualTo(Refusal.NOT_THE_AUTHORITY);
        assertThat(g.admit("acme", acmeAuthority.next("acme", KeyEventType.MIGRATED, "vault", "globex-key", 1))
                        .refusal())
                .isEqualTo(Refusal.KEK_OF_ANOTHER_TENANT);
        assertThat(g.admit("acme", acmeAuthority.next("acme", KeyEventType.MIGRATED, "local", "acme-own", 1))
                        .refusal())
                .isEqualTo(Refusal.OTHER_KEK);

        KeyEventGate.Decision moved =
                g.admit("acme", acmeAuthority.next("acme", KeyEventType.MIGRATED, "vault", "acme-vault", 1));
        assertThat(moved.outcome()).isEqualTo(Outcome.APPLIED);
        TenantState now = g.directory().get("acme");
        assertThat(now.kms()).isEqualTo("vault");
        assertThat(now.kekName()).isEqualTo("acme-vault");
        assertThat(now.status())
                .as("a migration does not restore a revoked tenant")
                .isEqualTo(TenantStatus.REVOKED);
        assertThat(now.authority()).isEqualTo(authority);
        // From now on events name the new key: one naming the old key is another KEK.
        assertThat(g.admit("acme", acmeAuthority.next("acme", KeyEventType.RESTORED, "local", "acme-own", 1))
                        .refusal())
                .isEqualTo(Refusal.OTHER_KEK);
        assertThat(g.admit("acme", acmeAuthority.next("acme", KeyEventType.RESTORED, "vault", "acme-vault", 1))
                        .outcome())
                .isEqualTo(Outcome.APPLIED);
    }

    @Test
    void destroyedTombstoneRegistered_cannotResurrectATenant() {
        for (Mode mode : Mode.values()) {
            KeyEventGate g = gate(mode);
            registerAcme(g);
            g.admit("acme", operator.next("acme", KeyEventType.DESTROYED, "local", "tenant-acme", 1));
            KeyEventGate.Decision tomb = g.admit("acme", null);
            KeyEventGate.Decision again =
                    g.admit("acme", operator.next("acme", KeyEventType.REGISTERED, "local", "tenant-acme", 1));
            if (mode == Mode.DISABLED_INSECURE) {
                assertThat(tomb.outcome()).isEqualTo(Outcome.FORGOTTEN);
                assertThat(status(g, "acme")).isEqualTo(TenantStatus.ACTIVE); // the control: back from the dead
            } else {
                assertThat(tomb.refusal()).isEqualTo(Refusal.TOMBSTONE);
                assertThat(again.refusal()).isEqualTo(Refusal.DESTROYED);
                assertThat(status(g, "acme")).isEqualTo(TenantStatus.DESTROYED);
            }
        }
    }

    @Test
    void tombstoneAfterRevocation_changesNothing() {
        for (Mode mode : Mode.values()) {
            KeyEventGate g = gate(mode);
            registerAcme(g);
            g.admit("acme", operator.next("acme", KeyEventType.REVOKED, "local", "tenant-acme", 1));
            g.admit("acme", null);
            assertThat(status(g, "acme")).isEqualTo(mode == Mode.DISABLED_INSECURE ? null : TenantStatus.REVOKED);
        }
    }

    @Test
    void replayedOldRestore_afterRevocation_changesNothing() {
        for (Mode mode : Mode.values()) {
            KeyEventGate g = gate(mode);
            registerAcme(g);
            g.admit("acme", operator.next("acme", KeyEventType.REVOKED, "local", "tenant-acme", 1));
            byte[] restored = operator.next("acme", KeyEventType.RESTORED, "local", "tenant-acme", 1);
            g.admit("acme", restored);
            g.admit("acme", operator.next("acme", KeyEventType.REVOKED, "local", "tenant-acme", 1));
            KeyEventGate.Decision replay = g.admit("acme", restored); // the attacker copies the old record
            if (mode == Mode.DISABLED_INSECURE) {
                assertThat(status(g, "acme")).isEqualTo(TenantStatus.ACTIVE);
            } else {
                assertThat(replay.refusal()).isEqualTo(Refusal.STALE_SEQUENCE);
                assertThat(status(g, "acme")).isEqualTo(TenantStatus.REVOKED);
            }
        }
    }

    @Test
    void aTenantWithItsOwnAuthority_isRevokedByItAlone() {
        String authority = KeyEventSignatures.encode(acmeAuthority.signer().publicKey());
        KeyEventGate g = gate(Mode.REQUIRED);
        byte[] reg = operator.next("acme", KeyEventType.REGISTERED, "local", "acme-own", 1, null, authority);
        assertThat(g.admit("acme", reg).outcome()).isEqualTo(Outcome.APPLIED);

        acmeAuthority.continueAfter("acme", 1);
        KeyEventGate.Decision byOperator =
                g.admit("acme", operator.next("acme", KeyEventType.REVOKED, "local", "acme-own", 1));
        assertThat(byOperator.refusal()).isEqualTo(Refusal.NOT_THE_AUTHORITY);
        assertThat(status(g, "acme")).isEqualTo(TenantStatus.ACTIVE);

        KeyEventGate.Decision byTenant =
                g.admit("acme", acmeAuthority.next("acme", KeyEventType.REVOKED, "local", "acme-own", 1));
        assertThat(byTenant.outcome()).isEqualTo(Outcome.APPLIED);
        assertThat(status(g, "acme")).isEqualTo(TenantStatus.REVOKED);
        assertThat(g.directory().get("acme").authority()).isEqualTo(authority); // carried by every later state

        // Nor can the operator register the tenant again to name another authority.
        byte[] rebind = operator.next("acme", KeyEventType.REGISTERED, "local", "acme-own", 1);
        assertThat(g.admit("acme", rebind).refusal()).isEqualTo(Refusal.ALREADY_REGISTERED);
    }

    @Test
    void aTamperedEvent_orASignatureMadeForAnotherPurpose_doesNotVerify() {
        KeyEventGate g = gate(Mode.REQUIRED);
        registerAcme(g);
        byte[] revoke = operator.next("acme", KeyEventType.REVOKED, "local", "tenant-acme", 1);
        KeyEvents.Read r = KeyEvents.read("acme", revoke);
        byte[] flipped = r.eventBytes().clone();
        flipped[flipped.length - 3] ^= 1;
        byte[] tampered = KeyEvents.encodeSigned(flipped, r.signer(), r.signature());
        KeyEventGate.Decision d = g.admit("acme", tampered);
        assertThat(d.outcome()).isEqualTo(Outcome.REFUSED);
        assertThat(d.refusal()).isIn(Refusal.BAD_SIGNATURE, Refusal.UNDECODABLE);

        // The operator's key signing the bare event bytes (no context string), as another protocol might.
        byte[] bare = new LocalKms(dir.resolve("operator"))
                .signingKeys()
                .orElseThrow()
                .sign("embedseal-operator-signing", r.eventBytes());
        assertThat(g.admit("acme", KeyEvents.encodeSigned(r.eventBytes(), r.signer(), bare))
                        .refusal())
                .isEqualTo(Refusal.BAD_SIGNATURE);
        assertThat(g.admit("acme", revoke).outcome()).isEqualTo(Outcome.APPLIED); // the genuine one does
    }

    @Test
    void unsignedEvents_areRefused_andAnUnmigratedTopicIsRecognised() {
        KeyEventGate g = gate(Mode.REQUIRED);
        byte[] unsigned = KeyEvents.encode(
                KeyEvents.event("acme", KeyEventType.REGISTERED, "local", "tenant-acme", 1, "old", null));
        assertThat(g.admit("acme", unsigned).refusal()).isEqualTo(Refusal.UNSIGNED);
        assertThat(g.looksUnmigrated()).isTrue();
        registerAcme(g);
        assertThat(g.looksUnmigrated()).isFalse();

        KeyEventGate dev = gate(Mode.DISABLED_INSECURE);
        assertThat(dev.admit("acme", unsigned).outcome()).isEqualTo(Outcome.APPLIED);
        assertThat(dev.looksUnmigrated()).isFalse();
    }

    @Test
    void aKekBoundToAnotherTenant_isRefused() {
        KeyEventGate g = gate(Mode.REQUIRED);
        registerAcme(g);
        // mallory claims acme's registered key; then the naming template's key of another tenant.
        assertThat(g.admit("mallory", operator.next("mallory", KeyEventType.REGISTERED, "local", "tenant-acme", 1))
                        .refusal())
                .isEqualTo(Refusal.KEK_OF_ANOTHER_TENANT);
        assertThat(g.admit("mallory", operator.next("mallory", KeyEventType.REGISTERED, "local", "tenant-bob", 1))
                        .refusal())
                .isEqualTo(Refusal.KEK_OF_ANOTHER_TENANT);
        assertThat(status(g, "mallory")).isNull();
    }

    @Test
    void rotationNeverGoesBack_andEventsNeedARegistration() {
        KeyEventGate g = gate(Mode.REQUIRED);
        registerAcme(g);
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.ROTATED, "local", "tenant-acme", 3))
                        .outcome())
                .isEqualTo(Outcome.APPLIED);
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.ROTATED, "local", "tenant-acme", 2))
                        .refusal())
                .isEqualTo(Refusal.OLDER_VERSION);
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.RESTORED, "local", "tenant-acme", 1))
                        .refusal())
                .isEqualTo(Refusal.OLDER_VERSION);
        assertThat(g.admit("bob", operator.next("bob", KeyEventType.REVOKED, "local", "tenant-bob", 1))
                        .refusal())
                .isEqualTo(Refusal.NOT_REGISTERED);
        assertThat(g.admit(null, new byte[] {1}).refusal()).isEqualTo(Refusal.NO_TENANT_KEY);
        assertThat(g.admit("acme", new byte[] {1, 2, 3}).refusal()).isEqualTo(Refusal.UNDECODABLE);
        assertThat(g.directory().get("acme").kekVersion()).isEqualTo(3);
    }

    @Test
    void aTinyRecordDeclaringAHugeLength_isRefusedWithoutAllocatingIt() {
        KeyEventGate g = gate(Mode.REQUIRED);
        registerAcme(g);
        byte[] genuine = operator.next("acme", KeyEventType.REVOKED, "local", "tenant-acme", 1);
        // The signed wrapper's header (marker, fingerprint), then the event field declaring 2,000,000,000 bytes.
        byte[] hostile = new byte[15];
        System.arraycopy(genuine, 0, hostile, 0, 10);
        long zigzag = 2_000_000_000L << 1;
        int i = 10;
        while ((zigzag & ~0x7FL) != 0) {
            hostile[i++] = (byte) ((zigzag & 0x7F) | 0x80);
            zigzag >>>= 7;
        }
        hostile[i] = (byte) zigzag;
        long before = Runtime.getRuntime().totalMemory();
        assertThat(g.admit("acme", hostile).refusal()).isEqualTo(Refusal.UNDECODABLE);
        assertThat(Runtime.getRuntime().totalMemory() - before).isLessThan(100L << 20);
        assertThat(g.admit("acme", new byte[KeyEvents.MAX_VALUE_BYTES + 1]).refusal())
                .isEqualTo(Refusal.UNDECODABLE);
        assertThat(g.admit("acme", genuine).outcome()).isEqualTo(Outcome.APPLIED); // the genuine one still does
    }

    @Test
    void aRotationDoesNotRestore_andASequenceCannotBePushedOutOfReach() {
        KeyEventGate g = gate(Mode.REQUIRED);
        registerAcme(g);
        g.admit("acme", operator.next("acme", KeyEventType.REVOKED, "local", "tenant-acme", 1));
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.ROTATED, "local", "tenant-acme", 2))
                        .outcome())
                .isEqualTo(Outcome.APPLIED);
        assertThat(status(g, "acme")).isEqualTo(TenantStatus.REVOKED);
        assertThat(g.directory().get("acme").kekVersion()).isEqualTo(2);

        operator.continueAfter("acme", Long.MAX_VALUE - 1);
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.RESTORED, "local", "tenant-acme", 2))
                        .refusal())
                .isEqualTo(Refusal.SEQUENCE_JUMP);
        assertThat(status(g, "acme")).isEqualTo(TenantStatus.REVOKED);
    }

    @Test
    void storedStates_roundTrip() {
        KeyEventGate g = gate(Mode.REQUIRED);
        String authority = KeyEventSignatures.encode(acmeAuthority.signer().publicKey());
        g.admit("acme", operator.next("acme", KeyEventType.REGISTERED, "local", "acme-own", 1, "why", authority));
        TenantState s = g.directory().get("acme");
        assertThat(TenantStates.decode(TenantStates.encode(s))).isEqualTo(s);
    }

    // --- public-key KEKs: the pinned public key is what sealers wrap every new DEK with ----------------------------

    private io.embedseal.keyring.kms.PublicKek pair(String owner, String name) {
        LocalKms kms = new LocalKms(dir.resolve(owner));
        kms.createKek(name, io.embedseal.keyring.kms.KekKind.PUBLIC_KEY);
        return java.util.Objects.requireNonNull(kms.publicKek(name, 1));
    }

    private io.embedseal.keyring.kms.PublicKek rotated(String owner, String name) {
        LocalKms kms = new LocalKms(dir.resolve(owner));
        int v = kms.rotate(name).version();
        return java.util.Objects.requireNonNull(kms.publicKek(name, v));
    }

    private io.embedseal.keyring.kms.@org.jspecify.annotations.Nullable PublicKek pinned(KeyEventGate g) {
        return g.directory().publicKekFor("acme");
    }

    @Test
    void aForgedRotationPinningTheAttackersPublicKey_isRefused() {
        io.embedseal.keyring.kms.PublicKek acme = pair("acme-kms", "tenant-acme");
        // Mallory's own key pair, under acme's key name and the next version: sealers would wrap acme's DEKs for her.
        io.embedseal.keyring.kms.PublicKek evil =
                pair("mallory-kms", "tenant-acme").withKek(acme.kek().withVersion(2));
        for (Mode mode : Mode.values()) {
            KeyEventGate g = gate(mode);
            g.admit("acme", operator.next("acme", KeyEventType.REGISTERED, acme));
            KeyEventGate.Decision d = g.admit("acme", mallory.next("acme", KeyEventType.ROTATED, evil));
            if (mode == Mode.DISABLED_INSECURE) { // the control: every new DEK of acme now opens for mallory
                assertThat(d.outcome()).isEqualTo(Outcome.APPLIED);
                assertThat(pinned(g)).isEqualTo(evil);
            } else {
                assertThat(d.refusal()).isEqualTo(Refusal.UNKNOWN_SIGNER);
                assertThat(pinned(g)).isEqualTo(acme);
            }
        }
    }

    @Test
    void aSignedRegistrationWhosePublicKeyWasSwapped_failsItsSignature() {
        io.embedseal.keyring.kms.PublicKek acme = pair("acme-kms", "tenant-acme");
        io.embedseal.keyring.kms.PublicKek evil = pair("mallory-kms", "tenant-acme");
        KeyEvents.Read honest = KeyEvents.read("acme", operator.next("acme", KeyEventType.REGISTERED, acme));
        io.embedseal.schemas.KeyEvent swapped = io.embedseal.schemas.KeyEvent.newBuilder(honest.event())
                .setKekPublicKey(java.nio.ByteBuffer.wrap(evil.spki()))
                .build();
        byte[] forged = KeyEvents.encodeSigned(
                KeyEvents.encode(swapped), java.util.Objects.requireNonNull(honest.signer()), honest.signature());

        KeyEventGate off = gate(Mode.DISABLED_INSECURE);
        assertThat(off.admit("acme", forged).outcome()).isEqualTo(Outcome.APPLIED);
        assertThat(pinned(off)).isEqualTo(evil);
        KeyEventGate g = gate(Mode.REQUIRED);
        assertThat(g.admit("acme", forged).refusal()).isEqualTo(Refusal.BAD_SIGNATURE);
        assertThat(g.directory().get("acme")).isNull();
    }

    @Test
    void revocationKeepsThePinnedKey_andOnlyARotationChangesIt() {
        io.embedseal.keyring.kms.PublicKek acme = pair("acme-kms", "tenant-acme");
        KeyEventGate g = gate(Mode.REQUIRED);
        g.admit("acme", operator.next("acme", KeyEventType.REGISTERED, acme));
        g.admit("acme", operator.next("acme", KeyEventType.REVOKED, "local", "tenant-acme", 1));
        assertThat(status(g, "acme")).isEqualTo(TenantStatus.REVOKED);
        assertThat(pinned(g)).isEqualTo(acme);

        // A signed RESTORED that slips in another public key is refused: only a rotation moves the pin.
        io.embedseal.keyring.kms.PublicKek other = pair("other-kms", "tenant-acme");
        io.embedseal.schemas.KeyEvent restore =
                KeyEvents.event("acme", KeyEventType.RESTORED, "local", "tenant-acme", 1, "ops", null, 3, null, other);
        assertThat(g.admit("acme", operator.signer().sign(restore)).refusal()).isEqualTo(Refusal.PUBLIC_KEY_CHANGED);
        assertThat(status(g, "acme")).isEqualTo(TenantStatus.REVOKED);

        g.admit("acme", operator.next("acme", KeyEventType.RESTORED, "local", "tenant-acme", 1));
        io.embedseal.keyring.kms.PublicKek v2 = rotated("acme-kms", "tenant-acme");
        // The author counted the refused event's sequence; continue from what the gate applied.
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.ROTATED, v2))
                        .outcome())
                .isEqualTo(Outcome.APPLIED);
        assertThat(pinned(g)).isEqualTo(v2);
        assertThat(status(g, "acme")).isEqualTo(TenantStatus.ACTIVE);
        TenantState s = g.directory().get("acme");
        assertThat(TenantStates.decode(TenantStates.encode(s))).isEqualTo(s);
    }

    @Test
    void aRotationCannotChangeTheKekKind() {
        io.embedseal.keyring.kms.PublicKek acme = pair("acme-kms", "tenant-acme");
        KeyEventGate symmetric = gate(Mode.REQUIRED);
        registerAcme(symmetric);
        assertThat(symmetric
                        .admit(
                                "acme",
                                operator.next(
                                        "acme",
                                        KeyEventType.ROTATED,
                                        acme.withKek(acme.kek().withVersion(2))))
                        .refusal())
                .isEqualTo(Refusal.PUBLIC_KEY_CHANGED);
        assertThat(symmetric.directory().publicKekFor("acme")).isNull();

        KeyEventGate pair = gate(Mode.REQUIRED);
        pair.admit("acme", operator.next("acme", KeyEventType.REGISTERED, acme));
        assertThat(pair.admit("acme", operator.next("acme", KeyEventType.ROTATED, "local", "tenant-acme", 2))
                        .refusal())
                .isEqualTo(Refusal.PUBLIC_KEY_CHANGED);
        assertThat(pinned(pair)).isEqualTo(acme);
    }

    @Test
    void aRegistrationPinningAWeakKey_isRefused() throws Exception {
        java.security.KeyPairGenerator rsa = java.security.KeyPairGenerator.getInstance("RSA");
        rsa.initialize(1024);
        io.embedseal.schemas.KeyEvent weak = io.embedseal.schemas.KeyEvent.newBuilder(KeyEvents.event(
                        "acme", KeyEventType.REGISTERED, "local", "tenant-acme", 1, "ops", null, 1, null))
                .setKekPublicKey(java.nio.ByteBuffer.wrap(
                        rsa.generateKeyPair().getPublic().getEncoded()))
                .build();
        KeyEventGate g = gate(Mode.REQUIRED);

        assertThat(g.admit("acme", operator.signer().sign(weak)).refusal()).isEqualTo(Refusal.BAD_PUBLIC_KEY);
        assertThat(g.directory().get("acme")).isNull();
    }

    @Test
    void eventsWithoutAPublicKey_stayInTheOlderSchema_soReadersNotYetUpgradedApplyThem() {
        io.embedseal.keyring.kms.PublicKek acme = pair("acme-kms", "tenant-acme");
        byte[] plain = KeyEvents.encode(
                KeyEvents.event("acme", KeyEventType.REVOKED, "local", "tenant-acme", 1, "ops", null, 2, null));
        byte[] pinning = KeyEvents.encode(KeyEvents.event(
                "acme", KeyEventType.REGISTERED, "local", "tenant-acme", 1, "ops", null, 1, null, acme));
        assertThat(java.util.Arrays.copyOfRange(plain, 2, 10))
                .as("the schema fingerprint of an event without a public key")
                .isNotEqualTo(java.util.Arrays.copyOfRange(pinning, 2, 10));
        assertThat(KeyEvents.publicKey(KeyEvents.decode("acme", pinning))).isEqualTo(acme.spki());
        assertThat(KeyEvents.publicKey(KeyEvents.decode("acme", plain))).isNull();
    }

    /**
     * The KMS may be ahead of the pinned version (a rotation whose event was never published, a tenant rotating in its
     * own KMS): a revocation or restoration naming the newer version must not relabel the pinned key as that version,
     * or sealers would wrap with version 1's key under the name of version 2, and no sink could open a record.
     */
    @Test
    void aRestorationNamingANewerVersion_neverRelabelsThePinnedKey() {
        io.embedseal.keyring.kms.PublicKek acme = pair("acme-kms", "tenant-acme");
        KeyEventGate g = gate(Mode.REQUIRED);
        g.admit("acme", operator.next("acme", KeyEventType.REGISTERED, acme));
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.REVOKED, "local", "tenant-acme", 2))
                        .outcome())
                .isEqualTo(Outcome.APPLIED);
        assertThat(pinned(g)).as("still version 1's key, as version 1").isEqualTo(acme);

        KeyEventGate.Decision ahead =
                g.admit("acme", operator.next("acme", KeyEventType.RESTORED, "local", "tenant-acme", 2));
        assertThat(ahead.refusal()).isEqualTo(Refusal.PUBLIC_KEY_CHANGED);
        assertThat(status(g, "acme")).isEqualTo(TenantStatus.REVOKED);
        // The author counted the refused event: the next one continues after it, and the gate takes any higher number.
        assertThat(g.admit("acme", operator.next("acme", KeyEventType.RESTORED, "local", "tenant-acme", 1))
                        .outcome())
                .isEqualTo(Outcome.APPLIED);
        assertThat(pinned(g)).isEqualTo(acme);
    }

    @Test
    void aKeyPairItsKmsCannotHold_isRefused() {
        io.embedseal.keyring.kms.PublicKek x25519 = pair("acme-kms", "tenant-acme");
        io.embedseal.keyring.kms.PublicKek forVault =
                x25519.withKek(new io.embedseal.keyring.kms.KekRef("vault", "tenant-acme", 1));
        KeyEventGate g = gate(Mode.REQUIRED);

        assertThat(g.admit("acme", operator.next("acme", KeyEventType.REGISTERED, forVault))
                        .refusal())
                .isEqualTo(Refusal.BAD_PUBLIC_KEY);
        assertThat(g.directory().get("acme")).isNull();
    }
}
