package io.embedseal.app.ops;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.sinks.postgres.PostgresRewrap;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "keys",
        mixinStandardHelpOptions = true,
        description = {
            "A tenant's key lifecycle: rotate, revoke, restore, destroy; and the key that signs key events.",
            "Each command does the KMS side first, then publishes the key event that "
                    + "every pipeline instance and sink acts on within seconds. All are safe to repeat: a command whose work is "
                    + "already done says so and changes nothing (rotate publishes a version the KMS already has instead of "
                    + "rotating twice)."
        },
        subcommands = {
            KeysCommand.Rotate.class,
            KeysCommand.Revoke.class,
            KeysCommand.Restore.class,
            KeysCommand.Destroy.class,
            KeysCommand.Restrict.class,
            KeysCommand.Rewrap.class,
            KeysCommand.ReencryptIndex.class,
            KeysCommand.SigningKey.class,
            KeyImportCommands.ImportParams.class,
            KeyImportCommands.WrapForImport.class
        })
public final class KeysCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(
                spec.commandLine(),
                "a subcommand is required: rotate, revoke, restore, destroy, restrict, rewrap, reencrypt-index, "
                        + "signing-key, import-params or wrap-for-import");
    }

    /** What the key commands share: the tenant, a reason, and the tenant's current state. */
    abstract static class KeyCommand extends OperatorCommand {

        @Option(names = "--tenant", required = true, description = "The tenant.")
        String tenant;

        @Option(names = "--reason", description = "Why, for the key event and the audit trail.")
        String reason;

        @Option(
                names = "--sign-with",
                paramLabel = "KEY",
                description = "Sign the event with this key of the configured KMS: the tenant's own authority key, "
                        + "when its registration named one (default: the operator's kms.events.signing-key).")
        String signWith;

        @Override
        final int run(ClusterOptions.Cluster cluster) {
            try (OperatorContext ctx = new OperatorContext(cluster, actor)) {
                TenantState state = ctx.keyEvents().state(tenant);
                if (state == null) {
                    throw new OperationFailed("tenant " + tenant + " is not registered on "
                            + cluster.topics().keyEvents() + " (use 'tenants add')");
                }
                // Before touching the KMS: a command whose event readers would refuse must change nothing at all.
                ctx.signWith(signWith).requireAuthority(tenant, state);
                return act(ctx, state, ctx.keyNameFor(tenant, state));
            }
        }

        abstract int act(OperatorContext ctx, TenantState state, String keyName);

        void refuseIfDestroyed(TenantState state, String what) {
            if (state.status() == TenantStatus.DESTROYED) {
                throw new OperationFailed(
                        "tenant " + tenant + " was DESTROYED (" + state.since() + "); it cannot be " + what);
            }
        }

        /** The KMS side where the provider can do it here; where it cannot, what the key's owner must do. */
        boolean kmsCan(OperatorContext ctx, KmsOperation op, String keyName) {
            return ctx.admin.supportedOperations(keyName).contains(op);
        }
    }

    @Command(
            name = "rotate",
            mixinStandardHelpOptions = true,
            description = {
                "Creates a new version of the tenant's key and publishes ROTATED: new records get DEKs wrapped under "
                        + "it at once; records sealed before stay readable while the KMS lets the old versions decrypt."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:rotated", "1:refused or failed", "2:invalid usage"})
    static final class Rotate extends KeyCommand {
        @Override
        int act(OperatorContext ctx, TenantState state, String keyName) {
            refuseIfDestroyed(state, "rotated");
            KeyDescription d = ctx.admin.describe(keyName);
            KekRef next;
            if (d.latestVersion() > state.kekVersion()) {
                // An earlier rotate reached the KMS but its event was never published: publish, do not rotate again.
                next = d.current();
                out().println("the KMS already has " + next + " (newer than the key event's version "
                        + state.kekVersion() + "): publishing it without rotating again");
            } else {
                next = ctx.admin.rotate(keyName);
                out().println("rotated " + keyName + " in the " + ctx.admin.provider() + " KMS: version "
                        + state.kekVersion() + " -> " + next.version());
            }
            PublicKek publicKek = null;
            if (state.kekPublicKey() != null) {
                publicKek = ctx.admin.publicKek(keyName, next.version());
                if (publicKek == null) {
                    throw new OperationFailed("tenant " + tenant + " has a public-key KEK, but the "
                            + ctx.admin.provider() + " KMS gives no public key for " + next + "; nothing published");
                }
                out().println("public key of " + next + ": " + publicKek.describeKey() + ", " + publicKek.fingerprint()
                        + " (pinned in ROTATED; sealers wrap with it, no KMS call)");
            }
            ctx.publish(tenant, KeyEventType.ROTATED, next, reason, null, publicKek);
            out().println("ROTATED published: new records of " + tenant + " are sealed under " + next);
            return 0;
        }
    }

    @Command(
            name = "revoke",
            mixinStandardHelpOptions = true,
            description = {
                "Stops all processing of the tenant's data: disables the key in the KMS where the provider allows "
                        + "it (local; aws: DisableKey), then publishes REVOKED. The pipeline dead-letters the tenant's records "
                        + "(metadata only) and the sinks stop unsealing it. With Vault, an HSM or a tenant's own AWS key (by "
                        + "ARN), the key's owner removes the pipeline's access on their side (the command says how)."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:revoked, or already revoked", "1:refused or failed", "2:invalid usage"})
    static final class Revoke extends KeyCommand {
        @Override
        int act(OperatorContext ctx, TenantState state, String keyName) {
            refuseIfDestroyed(state, "revoked");
            if (kmsCan(ctx, KmsOperation.DISABLE, keyName)) {
                KeyDescription d = ctx.admin.describe(keyName);
                if (d.state() == KeyState.ENABLED) {
                    ctx.admin.disable(keyName);
                    out().println("disabled " + keyName + " in the " + ctx.admin.provider() + " KMS");
                }
            } else {
                out().println(kmsSideNote(ctx.admin, keyName, KmsOperation.DISABLE));
            }
            if (state.status() == TenantStatus.REVOKED) {
                out().println("tenant " + tenant + " is already REVOKED (" + state.since() + "); nothing published");
                return 0;
            }
            ctx.publish(tenant, KeyEventType.REVOKED, new KekRef(state.kms(), keyName, state.kekVersion()), reason);
            out().println("REVOKED published: " + tenant
                    + "'s records are refused from now on; sinks stop unsealing them");
            return 0;
        }
    }

    @Command(
            name = "restore",
            mixinStandardHelpOptions = true,
            description =
                    "Undoes a revocation: enables the key in the KMS where the provider allows it, then publishes RESTORED.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:restored, or not revoked", "1:refused or failed", "2:invalid usage"})
    static final class Restore extends KeyCommand {
        @Override
        int act(OperatorContext ctx, TenantState state, String keyName) {
            refuseIfDestroyed(state, "restored");
            if (kmsCan(ctx, KmsOperation.ENABLE, keyName)) {
                KeyDescription d = ctx.admin.describe(keyName);
                if (d.state() != KeyState.ENABLED) {
                    ctx.admin.enable(keyName);
                    out().println("enabled " + keyName + " in the " + ctx.admin.provider() + " KMS");
                }
            } else {
                out().println(kmsSideNote(ctx.admin, keyName, KmsOperation.ENABLE));
            }
            if (state.status() == TenantStatus.ACTIVE) {
                out().println("tenant " + tenant + " is ACTIVE; nothing to restore, nothing published");
                return 0;
            }
            KeyDescription d = ctx.admin.describe(keyName);
            KekRef restored = d.current();
            if (state.kekPublicKey() != null) {
                // A key pair: sealers hold the public key of the pinned version only; a newer one is pinned by a
                // rotation.
                restored = new KekRef(state.kms(), keyName, state.kekVersion());
                if (d.latestVersion() > state.kekVersion()) {
                    out().println("the KMS has version " + d.latestVersion() + ", newer than the pinned "
                            + state.kekVersion() + ": 'keys rotate' pins it");
                }
            }
            ctx.publish(tenant, KeyEventType.RESTORED, restored, reason);
            out().println("RESTORED published: " + tenant + "'s records are sealed again under " + restored);
            return 0;
        }
    }

    @Command(
            name = "destroy",
            mixinStandardHelpOptions = true,
            description = {
                "Crypto-shredding: destroys every version of the tenant's key in the KMS, then publishes DESTROYED. "
                        + "Everything sealed under the key becomes unreadable for good, everywhere it was copied; sinks delete the "
                        + "tenant's data and append shred receipts. Terminal: the tenant id cannot be used again.",
                "Without --confirm <tenant> it only prints what would become unreadable."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:destroyed, or already destroyed",
                "1:failed",
                "2:invalid usage, or --confirm missing (nothing was done)"
            })
    static final class Destroy extends KeyCommand {

        @Option(
                names = "--confirm",
                paramLabel = "TENANT",
                description = "Repeat the tenant id to confirm the destruction.")
        String confirm;

        @Option(names = "--skip-count", description = "Do not scan the sealed topic to count the tenant's records.")
        boolean skipCount;

        @Override
        int act(OperatorContext ctx, TenantState state, String keyName) {
            if (state.status() == TenantStatus.DESTROYED) {
                out().println("tenant " + tenant + " was already DESTROYED (" + state.since() + "); nothing to do");
                return 0;
            }
            KeyDescription d;
            try {
                d = ctx.admin.describe(keyName);
            } catch (UnknownKeyException e) {
                d = null; // destroyed in the KMS by an earlier run whose event was never published
            }
            out().println("Destroying tenant " + tenant + "'s key makes unreadable, for good:");
            out().println("  - key " + ctx.admin.provider() + ":" + keyName
                    + (d == null
                            ? " (already gone from the KMS)"
                            : ", versions " + d.minDecryptionVersion() + " to " + d.latestVersion())
                    + ", and every DEK wrapped under it;");
            if (!skipCount) {
                long n = countSealed(ctx);
                out().printf(
                                Locale.ROOT,
                                "  - %,d sealed records of %s on %s, and every copy of them (consumers, backups, mirrors);%n",
                                n,
                                tenant,
                                ctx.cluster.topics().sealed());
            }
            out().println("  - sealed originals in " + ctx.cluster.topics().dlq()
                    + " dead letters and in sink dead-letter topics;");
            out().println("  - the sinks' stores: they delete the tenant's index and rows and append shred receipts to "
                    + ctx.cluster.topics().audit() + ".");
            out().println("The tenant id " + tenant + " stays DESTROYED: later events for it are refused.");
            if (!tenant.equals(confirm)) {
                throw new CommandLine.ParameterException(
                        spec.commandLine(),
                        "nothing was done: repeat the tenant id with --confirm " + tenant + " to destroy its key");
            }
            if (d != null) {
                ctx.admin.destroy(keyName);
                out().println("destroyed " + keyName + " in the " + ctx.admin.provider() + " KMS");
                ctx.admin.destructionNote(keyName).ifPresent(note -> out().println(note));
            }
            ctx.publish(
                    tenant,
                    KeyEventType.DESTROYED,
                    new KekRef(state.kms(), keyName, d == null ? state.kekVersion() : d.latestVersion()),
                    reason);
            out().println("DESTROYED published: " + tenant + " is crypto-shredded");
            return 0;
        }

        private long countSealed(OperatorContext ctx) {
            long[] n = {0};
            byte[] prefix =
                    (tenant + "/").getBytes(java.nio.charset.StandardCharsets.UTF_8); // keys are tenant/embeddingId
            TopicReader.read(
                    ctx.cluster.clientProps(),
                    ctx.cluster.topics().sealed(),
                    -1,
                    r -> {
                        if (startsWith(r.key(), prefix)) {
                            n[0]++;
                        }
                    },
                    read -> {
                        err().printf(
                                        Locale.ROOT,
                                        "\rscanning %s: %,d records read",
                                        ctx.cluster.topics().sealed(),
                                        read);
                        err().flush();
                    });
            err().print("\r");
            return n[0];
        }

        private static boolean startsWith(byte[] key, byte[] prefix) {
            if (key == null || key.length < prefix.length) {
                return false;
            }
            for (int i = 0; i < prefix.length; i++) {
                if (key[i] != prefix[i]) {
                    return false;
                }
            }
            return true;
        }
    }

    @Command(
            name = "restrict",
            mixinStandardHelpOptions = true,
            description = {
                "Refuses to unwrap under versions of the tenant's key older than --min-version, in the KMS (Vault's "
                        + "min_decryption_version). Run it after 'keys rewrap': records whose DEKs still name an older "
                        + "version stop opening. Reversible: a lower --min-version allows the old versions again. "
                        + "Publishes no key event (the KMS enforces it)."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:restricted", "1:refused or failed", "2:invalid usage"})
    static final class Restrict extends KeyCommand {

        @Option(names = "--min-version", required = true, description = "The oldest version that may still unwrap.")
        int minVersion;

        @Override
        int act(OperatorContext ctx, TenantState state, String keyName) {
            refuseIfDestroyed(state, "restricted");
            if (!kmsCan(ctx, KmsOperation.RESTRICT, keyName)) {
                out().println(kmsSideNote(ctx.admin, keyName, KmsOperation.RESTRICT));
                return 1;
            }
            KeyDescription d = ctx.admin.describe(keyName);
            if (minVersion < 1 || minVersion > d.latestVersion()) {
                throw new OperationFailed("--min-version must be 1 to " + d.latestVersion() + " (the latest version of "
                        + keyName + "), got " + minVersion);
            }
            ctx.admin.restrictVersions(keyName, minVersion);
            ctx.action(
                    "RESTRICTED",
                    tenant,
                    keyName + ":" + minVersion,
                    reason,
                    "versions below " + minVersion + " no longer unwrap");
            out().println("restricted " + keyName + " in the " + ctx.admin.provider() + " KMS: versions below "
                    + minVersion + " no longer unwrap (they did from " + d.minDecryptionVersion() + ")");
            return 0;
        }
    }

    @Command(
            name = "rewrap",
            mixinStandardHelpOptions = true,
            description = {
                "After a rotation: re-wraps every DEK the tenant's rows in the PostgreSQL store use under the "
                        + "newest version of its key, and rewrites those rows' key slots in place. No record is "
                        + "decrypted: a DEK is unwrapped and wrapped again (two KMS calls per DEK), the envelopes' "
                        + "authenticated headers and ciphertexts are copied unchanged. Resumable and idempotent: rerun "
                        + "it after a crash and it finishes the job. Then 'keys restrict' can retire the old versions.",
                "Version-1 envelopes cannot be re-wrapped in place (their key slot is authenticated): they are "
                        + "counted and left; re-seal them by replaying their records through the pipeline."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:every row under the newest version (or nothing to do)",
                "1:some rows could not be moved, or refused",
                "2:invalid usage"
            })
    static final class Rewrap extends OperatorCommand {

        @Option(names = "--tenant", required = true, description = "The tenant.")
        String tenant;

        @Option(names = "--reason", description = "Why, for the audit trail.")
        String reason;

        @CommandLine.Mixin
        StoreRewrite store;

        @Override
        int run(ClusterOptions.Cluster cluster) throws Exception {
            try (OperatorContext ctx = new OperatorContext(cluster, actor)) {
                TenantState state = ctx.keyEvents().state(tenant);
                if (state == null) {
                    throw new OperationFailed("tenant " + tenant + " is not registered on "
                            + cluster.topics().keyEvents() + " (use 'tenants add')");
                }
                if (state.status() != TenantStatus.ACTIVE) {
                    throw new OperationFailed("tenant " + tenant + " is " + state.status()
                            + ": its key cannot be used to re-wrap (restore it first, or there is nothing to keep)");
                }
                String keyName = ctx.keyNameFor(tenant, state);
                KekRef newest = ctx.keys.describe(keyName).current();
                if (newest.version() != state.kekVersion()) {
                    throw new OperationFailed("the KMS's newest version of " + keyName + " is " + newest.version()
                            + ", the key events' is " + state.kekVersion() + ": run 'keys rotate --tenant " + tenant
                            + "' first, so every reader knows the version the rows will name");
                }
                KekRef own = new KekRef(state.kms(), keyName, state.kekVersion());
                ctx.action("REWRAP_STARTED", tenant, newest.toString(), reason, "rows in " + store.table);
                PostgresRewrap.Progress result = store.run(
                        ctx,
                        "rewrap",
                        tenant,
                        own,
                        ctx.keys,
                        keyName,
                        newest,
                        ref -> ref.sameKeyAs(newest) && ref.version() >= newest.version(),
                        reason,
                        err());
                ctx.action("REWRAP_FINISHED", tenant, newest.toString(), reason, StoreRewrite.summary(result));
                out().println("rewrap of tenant " + tenant + " to " + newest + ": " + StoreRewrite.summary(result));
                if (result.rowsVersion1() > 0) {
                    out().println(result.rowsVersion1()
                            + " version-1 rows cannot be re-wrapped in place; they open only "
                            + "while their KEK version is allowed: replay their records through the pipeline to re-seal "
                            + "them before 'keys restrict'");
                }
                long stuck = result.rowsLeft() - result.rowsVersion1();
                if (stuck > 0) {
                    out().println(
                                    stuck + " rows are still under an older version (written by the sink meanwhile, or "
                                            + "failed): run 'keys rewrap' again once the sealed topic is drained, before 'keys restrict'");
                }
                return result.rowsFailed() > 0 || stuck > 0 ? 1 : 0;
            }
        }
    }

    @Command(
            name = "reencrypt-index",
            mixinStandardHelpOptions = true,
            description = {
                "Writes the tenant's Lucene index anew under a fresh index key, for when its index key may have been "
                        + "exposed (a rotation of the KEK only re-wraps the index key; the sink does that by itself). "
                        + "Stop the Lucene connector first: this holds the index's write lock. Every file is decrypted "
                        + "and encrypted again, written beside and renamed over the original; then the old index key "
                        + "leaves the key file. Resumable: rerun it after a crash and it finishes the job.",
                "Copies of the index taken before (backups) still open with the old index key while the tenant's KEK "
                        + "can unwrap it: destroying the KEK is what shreds them."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:re-encrypted", "1:refused or failed (the sink still running?)", "2:invalid usage"})
    static final class ReencryptIndex extends OperatorCommand {

        @Option(names = "--tenant", required = true, description = "The tenant.")
        String tenant;

        @Option(
                names = "--lucene-dir",
                required = true,
                paramLabel = "DIR",
                description = "The Lucene sink's lucene.dir.")
        java.nio.file.Path luceneDir;

        @Option(names = "--reason", description = "Why, for the audit trail.")
        String reason;

        @Override
        int run(ClusterOptions.Cluster cluster) throws Exception {
            try (OperatorContext ctx = new OperatorContext(cluster, actor)) {
                TenantState state = ctx.keyEvents().state(tenant);
                if (state == null || state.status() != TenantStatus.ACTIVE) {
                    throw new OperationFailed("tenant " + tenant + " is "
                            + (state == null ? "not registered" : state.status().toString())
                            + ": its index key can be replaced only while it is ACTIVE");
                }
                String keyName = ctx.keyNameFor(tenant, state);
                io.embedseal.keyring.KekResolver naming = new io.embedseal.keyring.KekResolver() {
                    @Override
                    public String kekNameFor(String t) {
                        return keyName;
                    }

                    @Override
                    public @org.jspecify.annotations.Nullable String tenantFor(String name) {
                        return name.equals(keyName) ? tenant : null;
                    }
                };
                try (io.embedseal.sinks.lucene.LuceneIndexes indexes =
                        io.embedseal.sinks.lucene.LuceneIndexes.encrypted(luceneDir, ctx.keys, naming, 0)) {
                    ctx.action("INDEX_REENCRYPT_STARTED", tenant, keyName, reason, "lucene index under " + luceneDir);
                    io.embedseal.sinks.lucene.LuceneIndexes.Reencrypted r;
                    try {
                        r = indexes.reencrypt(tenant);
                    } catch (org.apache.lucene.store.LockObtainFailedException e) {
                        throw new OperationFailed("tenant " + tenant + "'s index is open for writing (the Lucene "
                                + "connector is running?): stop it first. " + e.getMessage());
                    }
                    String summary = r.filesRewritten() + " files (" + r.bytes() + " bytes) re-encrypted under index "
                            + "key " + r.newKey() + "; retired " + r.oldKeys();
                    ctx.action("INDEX_REENCRYPT_FINISHED", tenant, keyName, reason, summary);
                    out().println("tenant " + tenant + ": " + summary);
                    return 0;
                }
            }
        }
    }

    /** What the key's owner does in the KMS where the provider cannot do {@code op} itself; the provider words it. */
    static String kmsSideNote(KeyAdministration admin, String keyName, KmsOperation op) {
        return "KMS side: " + admin.ownerAdvice(op, keyName) + " (the key event below acts now either way)";
    }

    @Command(
            name = "signing-key",
            mixinStandardHelpOptions = true,
            description = {
                "Prints the public half of a signing key in the configured KMS (the operator's, "
                        + "kms.events.signing-key, unless --key names another), creating the key if it is missing. "
                        + "Pin the printed key in the readers' kms.events.trusted-signers, or give it to "
                        + "'tenants add --authority-key' when it is a tenant's own authority key."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:printed", "1:failed", "2:invalid usage"})
    static final class SigningKey extends OperatorCommand {

        @Option(names = "--key", paramLabel = "NAME", description = "The signing key's name in the KMS.")
        String key;

        @Override
        int run(ClusterOptions.Cluster cluster) {
            try (OperatorContext ctx = new OperatorContext(cluster, actor)) {
                io.embedseal.control.KeyEventSigner signer;
                if (key == null) {
                    signer = ctx.signer(null);
                } else {
                    try {
                        signer = ctx.signer(key); // a token that may only use the key can still print it
                    } catch (io.embedseal.keyring.kms.UnknownKeyException e) {
                        ctx.signingKeys().createSigningKey(key);
                        signer = ctx.signer(key);
                    }
                }
                out().println("signing key " + signer.provider() + ":" + signer.keyName() + ", key id " + signer.keyId()
                        + " (" + signer.publicKey().getAlgorithm() + ")");
                out().println("-----BEGIN PUBLIC KEY-----");
                out().println(java.util.Base64.getMimeEncoder(64, new byte[] {'\n'})
                        .encodeToString(signer.publicKey().getEncoded()));
                out().println("-----END PUBLIC KEY-----");
                return 0;
            }
        }
    }
}
