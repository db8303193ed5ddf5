package io.embedseal.app.ops;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.embedseal.control.KeyEventSignatures;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.TenantIds;
import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.KeyState;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.sinks.postgres.PostgresRewrap;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "tenants",
        mixinStandardHelpOptions = true,
        description = "Onboard tenants and see their key state.",
        subcommands = {
            TenantsCommand.Add.class,
            TenantsCommand.ListTenants.class,
            TenantsCommand.Show.class,
            TenantsCommand.Migrate.class,
            TenantsCommand.PublicKeks.class
        })
public final class TenantsCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: add, list or show");
    }

    @Command(
            name = "add",
            mixinStandardHelpOptions = true,
            description = {
                "Registers a tenant: checks its key in the KMS is there and usable (a test DEK is wrapped and "
                        + "unwrapped), then publishes REGISTERED. With --key-name the tenant brings its own key (the name of a "
                        + "key it created and granted to the pipeline); otherwise the naming template's name is used.",
                "Idempotent: a tenant already registered with the same key is left as it is."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:registered, or already registered with this key",
                "1:refused (key missing, disabled or "
                        + "unusable; tenant destroyed or registered with another key) or failed",
                "2:invalid usage"
            })
    static final class Add extends OperatorCommand {

        @Option(names = "--tenant", required = true, description = "The tenant id ([A-Za-z0-9][A-Za-z0-9._-]{0,63}).")
        String tenant;

        @Option(names = "--key-name", description = "The tenant's own key in the KMS (bring your own key).")
        String keyName;

        @Option(
                names = "--create-key",
                description = "Create the key in the KMS if it does not exist (keys the operator manages).")
        boolean createKey;

        @Option(
                names = "--kek-kind",
                paramLabel = "KIND",
                description = "With --create-key: symmetric (default; every wrap is a KMS call) or public-key (a key "
                        + "pair: the pipeline and producers wrap with the public key, pinned in REGISTERED, and make "
                        + "no KMS call; only sinks and search unwrap). Without it, the kind of the existing key is read "
                        + "from the KMS.")
        String kekKind;

        @Option(
                names = "--import-key",
                paramLabel = "FILE",
                description =
                        "Import key material the tenant made (the file 'keys wrap-for-import' or the tenant's own "
                                + "tools wrote for 'keys import-params'): the KMS unwraps it into a new key it never exports, "
                                + "then proves it is the tenant's (its key check opens, or its public key matches) before "
                                + "anything is published. Key name and kind come from the file.")
        java.nio.file.Path importKey;

        @Option(
                names = "--expect",
                paramLabel = "KCV_OR_FINGERPRINT",
                description = "With --import-key, required: the key check value (KCV:...) or public-key fingerprint "
                        + "(SHA256:...) the tenant's own tool printed, as the tenant told it to you through a channel "
                        + "other than the file. The file proves only itself; this ties it to the tenant.")
        String expect;

        @Option(names = "--reason", description = "Why, for the key event and the audit trail.")
        String reason;

        @Option(
                names = "--authority-key",
                paramLabel = "PUBLIC_KEY",
                description = "The public key that alone may sign the tenant's later key events (rotate, revoke, "
                        + "restore, destroy), held by the tenant in its own KMS: a PEM file, or base64 X.509 "
                        + "SubjectPublicKeyInfo. Default: the operator's signing keys.")
        String authorityKey;

        @Override
        int run(ClusterOptions.Cluster cluster) {
            if (!TenantIds.isValid(tenant)) {
                throw new IllegalArgumentException("--tenant '" + tenant + "': " + TenantIds.describeRule());
            }
            KeyImportFiles.Import imported = null;
            if (importKey != null) {
                try {
                    imported = KeyImportFiles.readImport(importKey);
                } catch (java.io.IOException e) {
                    throw new IllegalArgumentException(
                            "--import-key: cannot read " + importKey + ": " + e.getMessage());
                }
                String fileKey = imported.parameters().keyName();
                if (expect == null) {
                    throw new IllegalArgumentException("--import-key needs --expect: the key check value or public-key "
                            + "fingerprint the tenant's tool printed, from the tenant itself (not from the file)");
                }
                String proof = imported.parameters().kind() == KekKind.SYMMETRIC
                        ? io.embedseal.keyring.kms.KeyImportWrap.checkValue(
                                java.util.Objects.requireNonNull(imported.keyCheck()))
                        : PublicKek.fingerprint(java.util.Objects.requireNonNull(imported.publicKey()));
                if (!proof.equals(expect.strip())) {
                    throw new IllegalArgumentException("--expect " + expect.strip() + " but the import file's proof is "
                            + proof + ": the file is not the one the tenant made; nothing imported");
                }
                if (keyName == null
                        && !fileKey.equals(cluster.keyringSettings().naming().kekNameFor(tenant))) {
                    throw new IllegalArgumentException("the import file is for key " + fileKey + ", not tenant "
                            + tenant
                            + "'s (" + cluster.keyringSettings().naming().kekNameFor(tenant) + "); name it with "
                            + "--key-name if the tenant brings its own key name");
                }
                if (keyName != null && !keyName.equals(fileKey)) {
                    throw new IllegalArgumentException(
                            "--key-name " + keyName + " but the import file is for key " + fileKey);
                }
                if (kekKind != null
                        && KekKind.parse(kekKind) != imported.parameters().kind()) {
                    throw new IllegalArgumentException("--kek-kind " + kekKind + " but the import file is for a "
                            + imported.parameters().kind().label() + " KEK");
                }
                if (createKey) {
                    throw new IllegalArgumentException("--import-key and --create-key exclude each other");
                }
                keyName = fileKey;
                kekKind = imported.parameters().kind().label();
            }
            try (OperatorContext ctx = new OperatorContext(cluster, actor)) {
                TenantState state = ctx.keyEvents().state(tenant);
                String name = ctx.bind(
                        tenant,
                        keyName != null
                                ? keyName
                                : cluster.keyringSettings().naming().kekNameFor(tenant));
                if (state != null && state.status() == TenantStatus.DESTROYED) {
                    throw new OperationFailed("tenant " + tenant + " was DESTROYED (" + state.since()
                            + "), which is terminal; " + "onboard it under a new tenant id");
                }
                if (state != null && !name.equals(state.kekName())) {
                    throw new OperationFailed("tenant " + tenant + " is registered with key " + state.kekName()
                            + ", not " + name + "; a tenant keeps its key (rotate it with 'keys rotate')");
                }
                if (imported != null) {
                    if (!imported.parameters().provider().equals(ctx.admin.provider())) {
                        throw new OperationFailed("the import file is for the "
                                + imported.parameters().provider() + " KMS, this configuration's is "
                                + ctx.admin.provider());
                    }
                    String owner = ctx.keyEvents().gate().directory().tenantFor(name);
                    if (owner != null && !owner.equals(tenant)) {
                        throw new OperationFailed("key " + name + " is bound to tenant " + owner
                                + "; nothing imported (a key serves one tenant only)");
                    }
                    importAndProve(ctx, name, imported);
                }
                KeyDescription key = null;
                try {
                    key = describeOrCreate(ctx, name);
                } catch (KeyDeniedException e) {
                    // A least-privilege pipeline token may use a key without reading its metadata: using it is the
                    // test.
                    out().println("this KMS identity may not read key " + name
                            + "'s metadata; checking that it can use the key");
                }
                if (key != null && key.state() != KeyState.ENABLED) {
                    throw new OperationFailed("key " + name + " is " + key.state() + " in the " + ctx.admin.provider()
                            + " KMS; enable it first");
                }
                KekKind wanted = kekKind == null ? null : KekKind.parse(kekKind);
                PublicKek publicKek = publicKek(ctx, name, key, wanted);
                KekRef current = checkUsable(ctx, name, publicKek);
                if (publicKek != null) {
                    out().println("key " + current + " is a public-key KEK (" + publicKek.describeKey() + ", "
                            + publicKek.fingerprint() + "): a test DEK wrapped with the public key alone was "
                            + "unwrapped by the KMS");
                } else {
                    out().println("key " + current
                            + " is usable by this KMS identity: a test DEK was wrapped and unwrapped");
                }
                if (state != null) {
                    if (!java.util.Objects.equals(
                                    state.kekPublicKey(),
                                    publicKek == null
                                            ? null
                                            : Base64.getEncoder().encodeToString(publicKek.spki()))
                            && state.kekVersion() == current.version()) {
                        throw new OperationFailed("tenant " + tenant + " is registered with " + state.kms() + ":"
                                + state.kekName() + ":" + state.kekVersion() + " pinned "
                                + (state.kekPublicKey() == null ? "as a symmetric KEK" : "with another public key")
                                + ", but the KMS now gives "
                                + (publicKek == null ? "a symmetric key" : "public key " + publicKek.fingerprint())
                                + "; the key was replaced under the same name. Nothing published");
                    }
                    out().println("tenant " + tenant + " is already registered with " + state.kms() + ":"
                            + state.kekName() + " (" + state.status() + "); nothing published");
                    return 0;
                }
                String authority = authorityKey == null ? null : readAuthority(authorityKey);
                String owner = ctx.keyEvents().gate().directory().tenantFor(name);
                if (owner != null && !owner.equals(tenant)) {
                    throw new OperationFailed("key " + name + " is bound to tenant " + owner
                            + " (registered, or by the kms.key-name settings); a key serves one tenant only");
                }
                ctx.publish(tenant, KeyEventType.REGISTERED, current, reason, authority, publicKek);
                if (authority != null) {
                    out().println("tenant " + tenant + "'s later key events must be signed by key id "
                            + KeyEventSignatures.keyId(KeyEventSignatures.parse(authority)));
                }
                out().println("tenant " + tenant + " REGISTERED with " + current + " on "
                        + cluster.topics().keyEvents());
                return 0;
            }
        }

        /**
         * Imports the tenant's key material unless the key exists already (a second run), then proves that the KMS holds
         * the key the tenant made: its key check opens (symmetric), or the public key the KMS reports is the tenant's.
         * Refuses (nothing published) otherwise.
         */
        private void importAndProve(OperatorContext ctx, String name, KeyImportFiles.Import imported) {
            io.embedseal.keyring.kms.KeyImport imports = ctx.admin
                    .keyImport()
                    .orElseThrow(() ->
                            new OperationFailed("the " + ctx.admin.provider() + " KMS provider cannot import keys"));
            KekKind kind = imported.parameters().kind();
            KekRef first;
            boolean existed;
            try {
                ctx.admin.describe(name);
                first = new KekRef(ctx.admin.provider(), name, 1);
                existed = true;
                out().println("key " + name + " exists in the " + ctx.admin.provider()
                        + " KMS (an earlier import?): checking it is the tenant's, importing nothing");
            } catch (UnknownKeyException e) {
                first = imports.importKek(name, kind, imported.wrapped());
                existed = false;
                out().println("imported " + kind.label() + " key " + first + " into the " + ctx.admin.provider()
                        + " KMS (not exportable)");
            }
            // What is proved is version 1, and it must be all there is: the KMS never made a version of its own, and
            // the key is held as an import (not exportable), whoever created it.
            try {
                imports.requireImportedOnly(name);
            } catch (KmsException e) {
                throw new OperationFailed(e.getMessage() + "; nothing published");
            }
            if (kind == KekKind.SYMMETRIC) {
                byte[] check = java.util.Objects.requireNonNull(imported.keyCheck());
                boolean opens;
                try {
                    opens = io.embedseal.keyring.kms.KeyImportWrap.verify(
                            ctx.keys, first, imports.checkAsWrappedDek(first, check));
                } catch (KmsException e) {
                    throw new OperationFailed("cannot check key " + first + " against the tenant's key check with this "
                            + "KMS identity (it must be allowed to unwrap under the key): " + e.getMessage());
                }
                if (!opens) {
                    throw new OperationFailed("key " + first + " does NOT open the tenant's key check: the KMS holds "
                            + "another key than the tenant made. Nothing published"
                            + (existed ? "" : "; the tenant should have the key deleted"));
                }
                out().println("the KMS holds the tenant's key: key check value "
                        + io.embedseal.keyring.kms.KeyImportWrap.checkValue(check));
            } else {
                PublicKek pk = ctx.admin.publicKek(name, 1);
                byte[] expected = java.util.Objects.requireNonNull(imported.publicKey());
                if (pk == null || !Arrays.equals(pk.spki(), expected)) {
                    throw new OperationFailed("key " + first + "'s public key in the KMS ("
                            + (pk == null ? "none" : pk.fingerprint()) + ") is NOT the tenant's ("
                            + PublicKek.fingerprint(expected) + "). Nothing published");
                }
                out().println("the KMS holds the tenant's key pair: public key " + pk.fingerprint());
            }
        }

        /** Base64 X.509 from a PEM file or the option's own text. */
        private static String readAuthority(String value) {
            String text = value;
            java.nio.file.Path file = java.nio.file.Path.of(value);
            if (!value.isBlank() && java.nio.file.Files.isRegularFile(file)) {
                try {
                    text = java.nio.file.Files.readString(file, java.nio.charset.StandardCharsets.US_ASCII);
                } catch (java.io.IOException e) {
                    throw new IllegalArgumentException("--authority-key: cannot read " + file + ": " + e.getMessage());
                }
            }
            try {
                return KeyEventSignatures.encode(KeyEventSignatures.parse(text));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--authority-key: " + e.getMessage(), e);
            }
        }

        private KeyDescription describeOrCreate(OperatorContext ctx, String name) {
            try {
                return ctx.admin.describe(name);
            } catch (UnknownKeyException e) {
                if (!createKey) {
                    throw new OperationFailed(
                            "the " + ctx.admin.provider() + " KMS has no key " + name + ": the tenant creates it "
                                    + "and grants the pipeline encrypt/decrypt on it (bring your own key), or pass --create-key");
                }
                KekRef created =
                        ctx.admin.createKek(name, kekKind == null ? KekKind.SYMMETRIC : KekKind.parse(kekKind));
                out().println("created key " + created + " in the " + ctx.admin.provider() + " KMS");
                return ctx.admin.describe(name);
            }
        }

        /**
         * The public half of the key's current version if it is a public-key KEK, read from the KMS; null for a
         * symmetric key. A key whose kind differs from {@code --kek-kind} is refused.
         */
        private @Nullable PublicKek publicKek(
                OperatorContext ctx, String name, @Nullable KeyDescription key, @Nullable KekKind wanted) {
            PublicKek publicKek;
            try {
                publicKek = key == null ? null : ctx.admin.publicKek(name, key.latestVersion());
            } catch (KeyDeniedException e) {
                if (wanted == KekKind.PUBLIC_KEY) {
                    throw new OperationFailed("this KMS identity may not read key " + name + "'s public key, which "
                            + "a public-key KEK's registration pins: " + e.getMessage());
                }
                publicKek = null;
            }
            if (key == null && wanted == KekKind.PUBLIC_KEY) {
                throw new OperationFailed("this KMS identity may not read key " + name
                        + "'s metadata, so its public key cannot be pinned; register with an identity that may");
            }
            KekKind found = publicKek == null ? KekKind.SYMMETRIC : KekKind.PUBLIC_KEY;
            if (wanted != null && key != null && wanted != found) {
                throw new OperationFailed("key " + name + " in the " + ctx.admin.provider() + " KMS is a "
                        + found.label() + " KEK, not " + wanted.label() + " as --kek-kind says; nothing published");
            }
            return publicKek;
        }

        /**
         * Wraps and unwraps a random DEK under the key, as the pipeline and the sinks will: proves access, not just
         * existence. For a public-key KEK the wrap is made with the public key about to be pinned, and the KMS must
         * unwrap it: proof that the KMS holds that key's private half.
         *
         * @return the key version that wrapped it (the current one)
         */
        private KekRef checkUsable(OperatorContext ctx, String name, @Nullable PublicKek publicKek) {
            byte[] dek = new byte[32];
            new SecureRandom().nextBytes(dek);
            byte[] id = new byte[DekId.LENGTH];
            new SecureRandom().nextBytes(id);
            byte[] aad = DekFactory.associatedData(tenant, DekId.of(id, 0, DekId.LENGTH));
            try {
                WrappedDek wrapped = publicKek != null ? publicKek.wrap(dek, aad) : ctx.keys.wrapDek(name, dek, aad);
                byte[] back = ctx.keys.unwrapDek(wrapped.kek(), wrapped.wrapped(), aad);
                if (!Arrays.equals(dek, back)) {
                    throw new OperationFailed("key " + name + " did not give back the test DEK it wrapped");
                }
                return wrapped.kek();
            } catch (KmsException e) {
                throw new OperationFailed(
                        "key " + name + " cannot be used by the pipeline's KMS identity: " + e.getMessage());
            } finally {
                Arrays.fill(dek, (byte) 0);
            }
        }
    }

    @Command(
            name = "list",
            mixinStandardHelpOptions = true,
            description = "Every tenant on the key-event topic and its key state.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:listed", "1:failed", "2:invalid usage"})
    static final class ListTenants extends OperatorCommand {

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Override
        int run(ClusterOptions.Cluster cluster) {
            KeyEventLog log = KeyEventLog.read(cluster);
            Map<String, TenantState> states = log.states();
            if (json) {
                ObjectNode n = new ObjectMapper().createObjectNode();
                ArrayNode a = n.putArray("tenants");
                states.values()
                        .forEach(s -> a.addObject()
                                .put("tenant", s.tenantId())
                                .put("state", s.status().name())
                                .put("kek", s.kms() + ":" + s.kekName() + ":" + s.kekVersion())
                                .put("lastEvent", s.lastEvent())
                                .put("since", String.valueOf(s.since())));
                n.put("invalidEvents", log.invalidEvents());
                out().println(n);
                return 0;
            }
            out().printf(Locale.ROOT, "%-24s %-10s %-40s %-11s %s%n", "TENANT", "STATE", "KEK", "LAST EVENT", "SINCE");
            for (TenantState s : states.values()) {
                out().printf(
                                Locale.ROOT,
                                "%-24s %-10s %-40s %-11s %s%n",
                                s.tenantId(),
                                s.status(),
                                s.kms() + ":" + s.kekName() + ":" + s.kekVersion(),
                                s.lastEvent(),
                                s.since());
            }
            out().printf(
                            Locale.ROOT,
                            "%d tenants%s%n",
                            states.size(),
                            log.invalidEvents() > 0 ? " (" + log.invalidEvents() + " undecodable events skipped)" : "");
            return 0;
        }
    }

    @Command(
            name = "show",
            mixinStandardHelpOptions = true,
            description =
                    "One tenant: its state, what its KMS says about its key, and its key events still on the topic.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:shown", "1:unknown tenant or failed", "2:invalid usage"})
    static final class Show extends OperatorCommand {

        @Option(names = "--tenant", required = true)
        String tenant;

        @Override
        int run(ClusterOptions.Cluster cluster) {
            try (OperatorContext ctx = new OperatorContext(cluster, actor)) {
                KeyEventLog log = ctx.keyEvents();
                TenantState s = log.state(tenant);
                if (s == null) {
                    throw new OperationFailed("tenant " + tenant + " is not on "
                            + cluster.topics().keyEvents() + " (never registered)");
                }
                out().printf(
                                Locale.ROOT,
                                "tenant   %s%nstate    %s (%s, %s)%nkey      %s:%s, version %d in the key event%n",
                                s.tenantId(),
                                s.status(),
                                s.lastEvent(),
                                s.since(),
                                s.kms(),
                                s.kekName(),
                                s.kekVersion());
                try {
                    KeyDescription d = ctx.admin.describe(ctx.bind(tenant, s.kekName()));
                    out().printf(
                                    Locale.ROOT,
                                    "KMS      %s: latest version %d, decrypts from version %d, %s%n",
                                    d.provider(),
                                    d.latestVersion(),
                                    d.minDecryptionVersion(),
                                    d.state());
                } catch (UnknownKeyException e) {
                    out().printf(
                                    Locale.ROOT,
                                    "KMS      %s: no such key (destroyed, or never created)%n",
                                    ctx.admin.provider());
                } catch (KmsException e) {
                    out().printf(Locale.ROOT, "KMS      %s: %s%n", ctx.admin.provider(), e.getMessage());
                }
                out().println("events on " + cluster.topics().keyEvents()
                        + " (a topic once compacted may have lost older ones):");
                for (KeyEvent e : log.history(tenant)) {
                    out().printf(
                                    Locale.ROOT,
                                    "  %s  %-10s %s:%s:%d by %s%s%n",
                                    e.getTime(),
                                    e.getType(),
                                    e.getKms(),
                                    e.getKekName(),
                                    e.getKekVersion(),
                                    e.getActor(),
                                    e.getReason() == null ? "" : " (" + e.getReason() + ")");
                }
                return 0;
            }
        }
    }

    @Command(
            name = "migrate",
            mixinStandardHelpOptions = true,
            description = {
                "Moves a tenant to another KMS (or another key): every DEK its rows in the PostgreSQL store use is "
                        + "unwrapped through its current key and wrapped under the target key, and the rows' key "
                        + "slots are rewritten in place (no record is decrypted); then MIGRATED is published, signed "
                        + "like any event of the tenant, naming the new key. Afterwards the old KMS is no longer "
                        + "needed for the tenant: its key there can be retired.",
                "Resumable: after a crash, run it again; MIGRATED is published only once every row has moved. "
                        + "Readers must be configured with the target provider to follow the tenant (see "
                        + "docs/key-lifecycle.md#migrating-a-tenant-to-another-kms)."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:migrated (or already migrated)",
                "1:refused, or some rows could not move (nothing published)",
                "2:invalid usage"
            })
    static final class Migrate extends OperatorCommand {

        @Option(names = "--tenant", required = true, description = "The tenant.")
        String tenant;

        @Option(
                names = "--to",
                required = true,
                paramLabel = "FILE",
                description = "A properties file with the target KMS's settings (kms.provider and its kms.* settings, "
                        + "as in docs/key-management.md; secrets by -file or -env, never inline).")
        java.nio.file.Path to;

        @Option(
                names = "--to-key-name",
                paramLabel = "NAME",
                description = "The tenant's key in the target KMS (default: the target's naming template).")
        String toKeyName;

        @Option(names = "--create-key", description = "Create the key in the target KMS if it does not exist.")
        boolean createKey;

        @Option(names = "--reason", description = "Why, for the key event and the audit trail.")
        String reason;

        @Option(
                names = "--sign-with",
                paramLabel = "KEY",
                description = "Sign MIGRATED with this key of the configured KMS: the tenant's own authority key, "
                        + "when its registration named one.")
        String signWith;

        @CommandLine.Mixin
        StoreRewrite store;

        @Override
        int run(ClusterOptions.Cluster cluster) throws Exception {
            KeyringSettings target = targetSettings();
            try (OperatorContext ctx = new OperatorContext(cluster, actor);
                    OperatorContext.OtherKms other = ctx.other(target)) {
                TenantState state = ctx.keyEvents().state(tenant);
                if (state == null) {
                    throw new OperationFailed("tenant " + tenant + " is not registered on "
                            + cluster.topics().keyEvents() + " (use 'tenants add')");
                }
                if (state.status() != TenantStatus.ACTIVE) {
                    throw new OperationFailed("tenant " + tenant + " is " + state.status()
                            + ": its key cannot be used to move its data keys (restore it first)");
                }
                ctx.signWith(signWith).requireAuthority(tenant, state);
                String keyName = ctx.keyNameFor(tenant, state);
                KekRef own = new KekRef(state.kms(), keyName, state.kekVersion());
                if (!state.kms().equals(ctx.keys.provider())) {
                    throw new OperationFailed("tenant " + tenant + " is on the " + state.kms() + " KMS, and this "
                            + "configuration's kms.provider is " + ctx.keys.provider() + ": run it with the settings "
                            + "of the KMS the tenant is on now");
                }
                String targetKey = ctx.bind(
                        tenant, toKeyName != null ? toKeyName : target.naming().kekNameFor(tenant));
                String targetProvider = other.keys().provider();
                if (targetProvider.equals(own.provider()) && targetKey.equals(keyName)) {
                    throw new OperationFailed(
                            "tenant " + tenant + " is already on " + targetProvider + ":" + targetKey);
                }
                KekRef targetRef;
                try {
                    targetRef = other.keys().describe(targetKey).current();
                } catch (io.embedseal.keyring.kms.UnknownKeyException e) {
                    if (!createKey) {
                        throw new OperationFailed("the target " + targetProvider + " KMS has no key " + targetKey
                                + ": the tenant creates it, or pass --create-key");
                    }
                    targetRef = other.admin().createKek(targetKey);
                    out().println("created " + targetRef + " in the target KMS");
                }
                KekRef newKek = targetRef;
                // A key pair as the target: its public key is pinned in MIGRATED, and the stored DEKs are wrapped with
                // it here (the target KMS never wraps under a key pair).
                PublicKek targetPublic = other.admin().publicKek(targetKey, newKek.version());
                io.embedseal.keyring.kms.Kms targetKms = new io.embedseal.keyring.PinnedKeyKms(
                        other.keys(), k -> k.equals(targetKey) ? targetPublic : null);
                ctx.action(
                        "MIGRATE_STARTED",
                        tenant,
                        newKek.toString(),
                        reason,
                        "from " + own + ", rows in " + store.table);
                PostgresRewrap.Progress result = store.run(
                        ctx,
                        "migrate",
                        tenant,
                        own,
                        targetKms,
                        targetKey,
                        newKek,
                        ref -> ref.sameKeyAs(newKek),
                        reason,
                        err());
                out().println("migration of tenant " + tenant + " to " + newKek + ": " + StoreRewrite.summary(result));
                if (result.rowsLeft() > 0 || result.rowsFailed() > 0 || store.stopAfterRows > 0) {
                    ctx.action("MIGRATE_INCOMPLETE", tenant, newKek.toString(), reason, StoreRewrite.summary(result));
                    out().println("MIGRATED not published: "
                            + (result.rowsVersion1() > 0
                                    ? result.rowsVersion1()
                                            + " version-1 rows cannot move (re-seal them through the pipeline "
                                            + "first); "
                                    : "")
                            + "run the command again once every row can move");
                    return 1;
                }
                ctx.publish(tenant, KeyEventType.MIGRATED, newKek, reason, null, targetPublic);
                out().println("MIGRATED published: " + tenant + "'s data keys are wrapped under " + newKek
                        + "; its key in the " + own.provider() + " KMS (" + keyName + ") is no longer needed");
                return 0;
            }
        }

        private KeyringSettings targetSettings() throws java.io.IOException {
            java.util.Properties p = new java.util.Properties();
            try (java.io.Reader r = java.nio.file.Files.newBufferedReader(to)) {
                p.load(r);
            }
            java.util.Map<String, String> values = new java.util.HashMap<>();
            for (String name : p.stringPropertyNames()) {
                if (name.startsWith("kms.") || name.startsWith("dek.")) {
                    values.put(name, p.getProperty(name).strip());
                }
            }
            try {
                return KeyringSettings.of(values, System::getenv);
            } catch (IllegalArgumentException e) {
                throw new OperationFailed("the target KMS settings in " + to + " are not usable: " + e.getMessage());
            }
        }
    }

    @Command(
            name = "public-keks",
            mixinStandardHelpOptions = true,
            description = {
                "Writes the public KEKs pinned in the tenants' key events (each event's signature verified, as the "
                        + "pipeline verifies it) as the file a producer sealing on its own side is configured with "
                        + "(embedseal.public-keks.file): those tenants are then sealed with their public key and no KMS.",
                "Tenants with a symmetric KEK, or not ACTIVE, are left out. Run it again after a rotation."
            },
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:written", "1:failed", "2:invalid usage"})
    static final class PublicKeks extends OperatorCommand {

        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Where to write the file.")
        java.nio.file.Path out;

        @Override
        int run(ClusterOptions.Cluster cluster) throws Exception {
            KeyEventLog log = KeyEventLog.read(cluster);
            StringBuilder file = new StringBuilder("# embedseal tenants public-keks: public KEKs pinned in signed key "
                    + "events, for embedseal.public-keks.file\n");
            int n = 0;
            for (TenantState s : log.states().values()) {
                PublicKek pk = s.publicKek();
                if (pk != null && s.status() == TenantStatus.ACTIVE) {
                    file.append(s.tenantId())
                            .append('=')
                            .append(io.embedseal.keyring.PinnedPublicKeks.value(pk))
                            .append('\n');
                    out().println(s.tenantId() + " " + pk.kek() + " " + pk.describeKey() + " " + pk.fingerprint());
                    n++;
                }
            }
            java.nio.file.Files.writeString(out, file.toString());
            out().println("wrote " + n + " public KEKs to " + out);
            return 0;
        }
    }
}
