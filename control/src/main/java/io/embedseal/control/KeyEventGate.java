package io.embedseal.control;

import io.embedseal.keyring.TenantIds;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import java.security.PublicKey;
import java.util.Arrays;
import java.util.Base64;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The one place that decides whether a record of the key-event topic changes a tenant's state: the pipeline's global
 * store, the sinks' follower and the operator commands all pass every record through a gate, in topic order, and
 * apply only what it admits. The rules (docs/key-lifecycle.md, "Who may change a tenant's key state"):
 *
 * <ul>
 *   <li>every event is signed; REGISTERED by one of the operator's {@link TrustedSigners}, every later event of the
 *       tenant by the authority its registration named (or, if it named none, by an operator key);
 *   <li>each event's sequence is above the last one applied for the tenant (replays and rollbacks change nothing);
 *   <li>a tenant registers once; later events name the same KMS and KEK, and never an older KEK version; a KEK bound
 *       to one tenant (registered, or by the naming settings) is refused for another;
 *   <li>DESTROYED is terminal; a tombstone changes nothing.
 * </ul>
 *
 * <p>{@link Mode#DISABLED_INSECURE} is the behaviour from before signing existed (any decodable event applies, a
 * tombstone forgets the tenant), for development and for reading a topic during its one-time migration. Not
 * thread-safe: one thread applies events, as the topic's order requires.
 */
public final class KeyEventGate {

    /** {@code kms.events.verification}. */
    public enum Mode {
        REQUIRED,
        DISABLED_INSECURE;

        public static Mode parse(String value) {
            return switch (value.strip().toLowerCase(Locale.ROOT)) {
                case "required" -> REQUIRED;
                case "disabled-insecure" -> DISABLED_INSECURE;
                default -> throw new IllegalArgumentException("must be required or disabled-insecure");
            };
        }

        public String setting() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    /** Why an event changed nothing; the metric label and the audit entry's {@code reason}. */
    public enum Refusal {
        NO_TENANT_KEY("the record has no key (the tenant id)"),
        UNDECODABLE("not a key event for the tenant of its record key"),
        TOMBSTONE("a tombstone never changes a tenant's state"),
        UNSIGNED("unsigned"),
        UNKNOWN_SIGNER("signed by a key that is not trusted to register tenants"),
        NOT_THE_AUTHORITY("not signed by the key the tenant's registration named"),
        BAD_SIGNATURE("the signature does not verify"),
        STALE_SEQUENCE("its sequence is not above the last one applied (a replay or rollback)"),
        SEQUENCE_JUMP("its sequence jumps more than " + MAX_SEQUENCE_STEP + " past the last one applied"),
        DESTROYED("the tenant is DESTROYED, which is terminal"),
        NOT_REGISTERED("the tenant has no registration"),
        ALREADY_REGISTERED("the tenant is already registered"),
        OTHER_KEK("it names another KMS or KEK than the tenant's registration"),
        OLDER_VERSION("it names a KEK version that is not newer than the tenant's"),
        PUBLIC_KEY_CHANGED(
                "it changes the tenant's KEK kind, pinned public key or its version outside a rotation or migration"),
        BAD_PUBLIC_KEY("its KEK public key is no RSA key of 2048 bits or more (or X25519 for the local KMS)"),
        KEK_OF_ANOTHER_TENANT("its KEK is bound to another tenant");

        private final String text;

        Refusal(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** What a record did. */
    public enum Outcome {
        APPLIED,
        /** Development mode only: a tombstone removed the tenant's state. */
        FORGOTTEN,
        REFUSED
    }

    /**
     * @param tenant  the record key (null only for {@link Refusal#NO_TENANT_KEY})
     * @param event   the decoded event, null for tombstones and undecodable records
     * @param state   the tenant's state after an applied event
     * @param refusal why nothing changed, when the outcome is REFUSED
     * @param signer  the signing key's id, when the event was signed
     */
    public record Decision(
            @Nullable String tenant,
            Outcome outcome,
            @Nullable KeyEvent event,
            @Nullable TenantState state,
            @Nullable Refusal refusal,
            @Nullable String signer) {

        public boolean applied() {
            return outcome == Outcome.APPLIED;
        }

        /** One line for logs and audit entries: never the record's bytes. */
        public String describe() {
            String what = event == null ? "record" : event.getType() + " #" + event.getSequence();
            return switch (outcome) {
                case APPLIED -> what + " for tenant " + tenant + " applied";
                case FORGOTTEN -> "tombstone for tenant " + tenant + " forgot it (verification disabled)";
                case REFUSED ->
                    what + " for tenant " + tenant + " refused: "
                            + Objects.requireNonNull(refusal).text();
            };
        }
    }

    /** Stands for a record key that is no valid tenant id, in decisions, logs and audit entries. */
    public static final String INVALID_KEY = "(not a tenant id)";

    /**
     * How far one event's sequence may run ahead of the last applied: far more than any gap a lost publication
     * leaves, far less than would let a signer push a tenant's counter to where no later event fits.
     */
    public static final long MAX_SEQUENCE_STEP = 1_000_000;

    private final TenantDirectory directory;
    private final TrustedSigners trusted;
    private final Mode mode;
    private final AtomicLong unsigned = new AtomicLong();
    private final AtomicLong appliedSigned = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong seen = new AtomicLong();

    public KeyEventGate(TenantDirectory directory, TrustedSigners trusted, Mode mode) {
        this.directory = Objects.requireNonNull(directory, "directory");
        this.trusted = Objects.requireNonNull(trusted, "trusted");
        this.mode = Objects.requireNonNull(mode, "mode");
    }

    public Mode mode() {
        return mode;
    }

    public TrustedSigners trusted() {
        return trusted;
    }

    public TenantDirectory directory() {
        return directory;
    }

    /** Unsigned events seen so far (applied in development mode, refused otherwise). */
    public long unsignedSeen() {
        return unsigned.get();
    }

    /** Signed events applied so far. */
    public long signedApplied() {
        return appliedSigned.get();
    }

    public long refused() {
        return refused.get();
    }

    /** Records decided so far, whatever the outcome. */
    public long seen() {
        return seen.get();
    }

    /**
     * A topic written before signing existed: it holds unsigned events and not one signed event was applied. A
     * reader in {@link Mode#REQUIRED} refuses to start on it, naming the migration and the development setting.
     */
    public boolean looksUnmigrated() {
        return mode == Mode.REQUIRED && unsigned.get() > 0 && appliedSigned.get() == 0;
    }

    /** Decides about one record of the key-event topic and, if it is admitted, applies it to the directory. */
    public Decision admit(@Nullable String tenant, byte @Nullable [] value) {
        Decision d = decide(tenant, value);
        seen.incrementAndGet();
        switch (d.outcome()) {
            case APPLIED -> {
                directory.apply(Objects.requireNonNull(d.state()));
                if (d.signer() != null) {
                    appliedSigned.incrementAndGet();
                }
            }
            case FORGOTTEN -> directory.forget(Objects.requireNonNull(tenant));
            case REFUSED -> refused.incrementAndGet();
        }
        return d;
    }

    private Decision decide(@Nullable String tenant, byte @Nullable [] value) {
        if (tenant == null) {
            return refuse(null, null, Refusal.NO_TENANT_KEY, null);
        }
        if (!TenantIds.isValid(tenant)) {
            // Never a tenant: and the key is the writer's text, so it goes into no log or audit entry as it is.
            return refuse(INVALID_KEY, null, Refusal.UNDECODABLE, null);
        }
        if (value == null) {
            if (mode == Mode.DISABLED_INSECURE) {
                return new Decision(tenant, Outcome.FORGOTTEN, null, null, null, null);
            }
            return refuse(tenant, null, Refusal.TOMBSTONE, null);
        }
        KeyEvents.Read read;
        try {
            read = KeyEvents.read(tenant, value);
        } catch (KeyEvents.InvalidKeyEventException e) {
            return refuse(tenant, null, Refusal.UNDECODABLE, null);
        }
        KeyEvent e = read.event();
        TenantState current = directory.get(tenant);
        if (!read.isSigned()) {
            unsigned.incrementAndGet();
        }
        if (mode == Mode.DISABLED_INSECURE) {
            // As before signing: apply whatever decodes, except that DESTROYED stays terminal.
            if (current != null
                    && current.status() == TenantStatus.DESTROYED
                    && e.getType() != KeyEventType.DESTROYED) {
                return refuse(tenant, e, Refusal.DESTROYED, read.signer());
            }
            return new Decision(tenant, Outcome.APPLIED, e, carry(current, e), null, read.signer());
        }
        if (!read.isSigned()) {
            return refuse(tenant, e, Refusal.UNSIGNED, null);
        }
        String signer = Objects.requireNonNull(read.signer());
        PublicKey key;
        if (e.getType() == KeyEventType.REGISTERED || current == null || current.authority() == null) {
            key = trusted.get(signer);
            if (key == null) {
                return refuse(tenant, e, Refusal.UNKNOWN_SIGNER, signer);
            }
        } else {
            key = authorityKey(current.authority());
            if (key == null || !KeyEventSignatures.keyId(key).equals(signer)) {
                return refuse(tenant, e, Refusal.NOT_THE_AUTHORITY, signer);
            }
        }
        if (!KeyEventSignatures.verify(key, read.eventBytes(), Objects.requireNonNull(read.signature()))) {
            return refuse(tenant, e, Refusal.BAD_SIGNATURE, signer);
        }
        Refusal broken = checkRules(tenant, e, current);
        if (broken == null) {
            broken = checkPublicKey(e, current);
        }
        if (broken != null) {
            return refuse(tenant, e, broken, signer);
        }
        if (current == null && e.getAuthority() != null && authorityKey(e.getAuthority()) == null) {
            return refuse(tenant, e, Refusal.UNDECODABLE, signer);
        }
        TenantState next = carry(current, e);
        return new Decision(tenant, Outcome.APPLIED, e, next, null, signer);
    }

    /**
     * The state an admitted event leaves: the event's own, except that a rotation or migration keeps the tenant's
     * status, the authority stays the registration's, and an event that names no public key (a revocation,
     * restoration or destruction) keeps the one pinned before.
     */
    private static TenantState carry(@Nullable TenantState current, KeyEvent e) {
        TenantState next = KeyEvents.toState(e);
        if (current == null) {
            return next;
        }
        boolean changesKey = e.getType() == KeyEventType.ROTATED || e.getType() == KeyEventType.MIGRATED;
        // A pinned public key belongs to one version: only an event that pins another key moves the version with it.
        boolean keepsVersion = !changesKey && current.kekPublicKey() != null;
        return new TenantState(
                next.tenantId(),
                changesKey ? current.status() : next.status(),
                next.kms(),
                next.kekName(),
                keepsVersion ? current.kekVersion() : next.kekVersion(),
                next.lastEvent(),
                next.since(),
                next.sequence(),
                current.authority(),
                changesKey ? next.kekPublicKey() : current.kekPublicKey());
    }

    private @Nullable Refusal checkPublicKey(KeyEvent e, @Nullable TenantState current) {
        byte[] pinned = KeyEvents.publicKey(e);
        if (pinned != null) {
            try {
                if (!PublicKek.of(new KekRef(e.getKms(), e.getKekName(), e.getKekVersion()), pinned)
                        .suitsProvider(e.getKms())) {
                    return Refusal.BAD_PUBLIC_KEY; // a key pair that KMS cannot hold: nothing could ever open
                }
            } catch (IllegalArgumentException ex) {
                return Refusal.BAD_PUBLIC_KEY;
            }
        }
        if (current == null || e.getType() == KeyEventType.MIGRATED) {
            return null;
        }
        String before = current.kekPublicKey();
        if (e.getType() == KeyEventType.ROTATED) {
            // A rotation keeps the kind: a symmetric KEK does not become a key pair by a rotation, nor the reverse.
            return (before == null) == (pinned == null) ? null : Refusal.PUBLIC_KEY_CHANGED;
        }
        if (before != null && e.getType() == KeyEventType.RESTORED && e.getKekVersion() != current.kekVersion()) {
            // The pinned key is the pinned version's: sealing under another version needs its public key, which
            // only a rotation pins.
            return Refusal.PUBLIC_KEY_CHANGED;
        }
        return pinned == null
                        || (before != null
                                && Arrays.equals(pinned, Base64.getDecoder().decode(before)))
                ? null
                : Refusal.PUBLIC_KEY_CHANGED;
    }

    private @Nullable Refusal checkRules(String tenant, KeyEvent e, @Nullable TenantState current) {
        if (current != null && current.status() == TenantStatus.DESTROYED) {
            return Refusal.DESTROYED;
        }
        long last = current == null ? 0 : current.sequence();
        if (e.getSequence() < 1 || e.getSequence() <= last) {
            return Refusal.STALE_SEQUENCE;
        }
        if (e.getSequence() - last > MAX_SEQUENCE_STEP) {
            return Refusal.SEQUENCE_JUMP;
        }
        if (e.getType() == KeyEventType.REGISTERED) {
            if (current != null) {
                return Refusal.ALREADY_REGISTERED;
            }
            String owner = directory.tenantFor(e.getKekName());
            if (owner != null && !owner.equals(tenant)) {
                return Refusal.KEK_OF_ANOTHER_TENANT;
            }
            return null;
        }
        if (current == null) {
            return Refusal.NOT_REGISTERED;
        }
        if (e.getType() == KeyEventType.MIGRATED) {
            // The one event that names another KEK: signed like every later event (by the tenant's authority where it
            // named one), it may not take another tenant's key, nor move to the KEK the tenant already has.
            String owner = directory.tenantFor(e.getKekName());
            if (owner != null && !owner.equals(tenant)) {
                return Refusal.KEK_OF_ANOTHER_TENANT;
            }
            if (current.kms().equals(e.getKms()) && current.kekName().equals(e.getKekName())) {
                return Refusal.OTHER_KEK;
            }
            return null;
        }
        if (!current.kms().equals(e.getKms()) || !current.kekName().equals(e.getKekName())) {
            return Refusal.OTHER_KEK;
        }
        if (e.getType() == KeyEventType.ROTATED
                ? e.getKekVersion() <= current.kekVersion()
                : e.getKekVersion() < current.kekVersion()) {
            return Refusal.OLDER_VERSION;
        }
        return null;
    }

    private static @Nullable PublicKey authorityKey(@Nullable String encoded) {
        if (encoded == null) {
            return null;
        }
        try {
            return KeyEventSignatures.parse(encoded);
        } catch (IllegalArgumentException ex) {
            return null;
        }
    }

    private Decision refuse(@Nullable String tenant, @Nullable KeyEvent e, Refusal refusal, @Nullable String signer) {
        return new Decision(tenant, Outcome.REFUSED, e, null, refusal, signer);
    }
}
