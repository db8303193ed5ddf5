package io.embedseal.serdes.envelope;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.serdes.envelope.EnvelopeException.Reason;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SealerTest {

    private static final byte[] PAYLOAD = "a vector, in some encoding".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;

    private Sealer sealer;

    @BeforeEach
    void setUp() {
        sealer = new Sealer(Keyring.builder(new LocalKms(dir))
                .createMissingKeys(new LocalKms(dir)::createKek)
                .build());
    }

    @Test
    void sealThenUnseal_returnsThePayloadAndHeader() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        Unsealed opened = sealer.unseal(envelope, "acme", "doc-1");

        assertThat(opened.plaintext()).isEqualTo(PAYLOAD);
        EnvelopeHeader h = opened.header();
        assertThat(h.tenantId()).isEqualTo("acme");
        assertThat(h.embeddingId()).isEqualTo("doc-1");
        assertThat(h.kek()).hasToString("local:tenant-acme:1");
        assertThat(h.payloadType()).isEqualTo(PayloadType.EMBEDDING_EVENT_AVRO);
        assertThat(h.ciphertextLength()).isEqualTo(PAYLOAD.length + 28);
        assertThat(envelope).startsWith(0x45, 0x53, 0x4C, 0x02, 0x01);
        assertThat(h.formatVersion()).isEqualTo(2);
        assertThat(h.purpose()).isEqualTo(Sealer.DEFAULT_PURPOSE);
    }

    @Test
    void sealedBytesDoNotContainThePlaintext() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        assertThat(new String(envelope, StandardCharsets.ISO_8859_1)).doesNotContain("vector");
    }

    @Test
    void twoSealsOfTheSamePayload_differ() {
        byte[] a = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] b = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        assertThat(a).isNotEqualTo(b);
    }

    @Test
    void unicodeEmbeddingIds_roundTrip() {
        byte[] envelope =
                sealer.seal("acme", "документ-1/§", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        assertThat(sealer.unseal(envelope, "acme", "документ-1/§").plaintext()).isEqualTo(PAYLOAD);
    }

    @Test
    void anySingleBitFlip_isRejected() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        Set<Reason> seen = EnumSet.noneOf(Reason.class);

        for (int bit = 0; bit < envelope.length * 8; bit++) {
            byte[] flipped = envelope.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            int at = bit;
            assertThatThrownBy(() -> sealer.unseal(flipped, "acme", "doc-1"))
                    .as("bit %d", at)
                    .isInstanceOfSatisfying(EnvelopeException.class, e -> seen.add(e.reason()));
        }
        // The flips land in every kind of field, so several distinct classifications must appear.
        assertThat(seen)
                .contains(Reason.NOT_AN_ENVELOPE, Reason.UNSUPPORTED_VERSION, Reason.TAMPERED, Reason.WRONG_BINDING);
    }

    @Test
    void everyTruncation_isRejectedWithATypedError() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        for (int len = 0; len < envelope.length; len++) {
            byte[] cut = Arrays.copyOf(envelope, len);
            assertThatThrownBy(() -> sealer.unseal(cut, "acme", "doc-1"))
                    .isInstanceOfSatisfying(
                            EnvelopeException.class,
                            e -> assertThat(e.reason()).isIn(Reason.NOT_AN_ENVELOPE, Reason.TRUNCATED));
        }
    }

    @Test
    void trailingBytes_areMalformed() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        assertReason(Arrays.copyOf(envelope, envelope.length + 1), "acme", "doc-1", Reason.MALFORMED);
    }

    @Test
    void anotherTenantsEnvelope_isWrongBinding() {
        byte[] ofB = sealer.seal("b", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        assertReason(ofB, "a", "doc-1", Reason.WRONG_BINDING);
    }

    @Test
    void envelopeMovedToAnotherRecord_isWrongBinding() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        assertReason(envelope, "acme", "doc-2", Reason.WRONG_BINDING);
    }

    @Test
    void headerRewrittenToAnotherTenant_doesNotOpen() {
        // An attacker relabels b's envelope as a's record: tenant a's KEK name no longer matches the KEK named.
        byte[] ofB = sealer.seal("b", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        sealer.seal(
                "a",
                "doc-0",
                RecordVersion.now(),
                PayloadType.EMBEDDING_EVENT_AVRO,
                PAYLOAD); // a exists with its own KEK
        byte[] relabelled = ofB.clone();
        relabelled[6] = 'a'; // tenant id "b" -> "a" (1-byte id at offset 6)

        assertReason(relabelled, "a", "doc-1", Reason.WRONG_BINDING);
    }

    @Test
    void headerRewrittenToAnotherTenantAndItsKek_failsAuthentication() {
        byte[] ofB = sealer.seal("b", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        sealer.seal("a", "doc-0", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        String text = new String(ofB, StandardCharsets.ISO_8859_1).replace("local:tenant-b:1", "local:tenant-a:1");
        byte[] relabelled = text.getBytes(StandardCharsets.ISO_8859_1);
        relabelled[6] = 'a';

        assertReason(relabelled, "a", "doc-1", Reason.TAMPERED);
    }

    @Test
    void futureVersion_isUnsupported() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        envelope[3] = 3;

        assertReason(envelope, "acme", "doc-1", Reason.UNSUPPORTED_VERSION);
    }

    @Test
    void otherBytes_areNotAnEnvelope() {
        assertReason(new byte[] {0, 0, 0, 1, 5}, "acme", "doc-1", Reason.NOT_AN_ENVELOPE);
        assertReason(new byte[0], "acme", "doc-1", Reason.NOT_AN_ENVELOPE);
    }

    @Test
    void declaredLengthBeyondItsLimit_isOutOfBounds() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        // embedding id length field sits right after the 4-byte tenant id at offset 6.
        ByteBuffer.wrap(envelope).putShort(10, (short) 0xFFFF);

        assertReason(envelope, "acme", "doc-1", Reason.FIELD_OUT_OF_BOUNDS);
    }

    @Test
    void destroyedKek_isUnknownKey() throws Exception {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        new LocalKms(dir).destroy("tenant-acme");
        Sealer fresh = new Sealer(Keyring.of(new LocalKms(dir)));

        assertReason(envelope, "acme", "doc-1", Reason.KEY_UNKNOWN, fresh);
    }

    @Test
    void unsealingInAnotherProcess_needsOnlyTheKms() {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        Sealer other = new Sealer(Keyring.of(new LocalKms(dir)));

        assertThat(other.unseal(envelope, "acme", "doc-1").plaintext()).isEqualTo(PAYLOAD);
    }

    @Test
    void toStringOfUnsealed_hidesThePlaintext() {
        Unsealed opened = sealer.unseal(
                sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD),
                "acme",
                "doc-1");

        assertThat(opened.toString()).contains("redacted").doesNotContain("vector");
    }

    @Test
    void invalidTenantOrEmptyId_isNotSealed() {
        assertThatThrownBy(() -> sealer.seal(
                        "no/slash", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(
                        () -> sealer.seal("acme", "", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // --- version 2: the key slot, the purpose, the record version ------------------------------------------------

    /** The key slot (KEK reference and wrapped DEK) of {@code donor} put into {@code envelope}. */
    private static byte[] withSlotOf(byte[] envelope, byte[] donor) {
        EnvelopeHeader d = EnvelopeHeader.parse(donor);
        return EnvelopeHeader.withKeySlot(envelope, d.kek(), d.wrappedDek());
    }

    @Test
    void keySlotOfAnotherTenant_isRefused_byTheKekCheckOrTheKmsBinding() {
        byte[] ofA = sealer.seal("a", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] ofB = sealer.seal("b", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        EnvelopeHeader a = EnvelopeHeader.parse(ofA);
        EnvelopeHeader b = EnvelopeHeader.parse(ofB);

        // b's slot as it is: it names b's KEK, which is not a's.
        assertReason(withSlotOf(ofA, ofB), "a", "doc-1", Reason.WRONG_BINDING);
        // b's wrapped DEK under a's KEK reference: the KMS refuses to unwrap it (other key, other binding).
        assertReason(EnvelopeHeader.withKeySlot(ofA, a.kek(), b.wrappedDek()), "a", "doc-1", Reason.TAMPERED);
    }

    @Test
    void keySlotOfAnotherDekOfTheSameTenant_isRefusedByTheKms_beforeThatDekIsEverUnwrappedForIt() {
        byte[] first = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        Sealer second = new Sealer(Keyring.of(new LocalKms(dir))); // a new keyring seals under a new DEK
        byte[] other = second.seal("acme", "doc-2", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        assertThat(EnvelopeHeader.parse(other).dekId())
                .isNotEqualTo(EnvelopeHeader.parse(first).dekId());
        Keyring reader = Keyring.of(new LocalKms(dir));

        assertReason(withSlotOf(first, other), "acme", "doc-1", Reason.TAMPERED, new Sealer(reader));
        assertThat(reader.cachedDekCount())
                .as("the other DEK never reached the reader's memory")
                .isZero();
    }

    @Test
    void keySlotSwap_withTheKmsBindingSwitchedOff_getsTheOtherDekUnwrapped_whichTheBindingPrevents() {
        byte[] first = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] other = new Sealer(Keyring.of(new LocalKms(dir)))
                .seal("acme", "doc-2", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] swapped = withSlotOf(first, other);
        // The defence off: a KMS that unwraps with the binding the DEK was wrapped with, whatever the reader asks.
        LocalKms local = new LocalKms(dir);
        byte[] otherBinding = io.embedseal.keyring.dek.DekFactory.associatedData(
                "acme", EnvelopeHeader.parse(other).dekId());
        io.embedseal.keyring.kms.Kms unbound = new io.embedseal.keyring.kms.Kms() {
            @Override
            public String provider() {
                return local.provider();
            }

            @Override
            public io.embedseal.keyring.kms.WrappedDek wrapDek(String keyName, byte[] dek, byte[] aad) {
                return local.wrapDek(keyName, dek, aad);
            }

            @Override
            public byte[] unwrapDek(io.embedseal.keyring.kms.KekRef kek, byte[] wrapped, byte[] aad) {
                return local.unwrapDek(kek, wrapped, otherBinding);
            }

            @Override
            public io.embedseal.keyring.kms.KeyDescription describe(String keyName) {
                return local.describe(keyName);
            }
        };
        Keyring confused = Keyring.of(unbound);

        // The payload still fails (it was sealed under the first DEK), but the other DEK was unwrapped for a record it
        // does not belong to: a confused deputy the KMS binding refuses (previous test).
        assertReason(swapped, "acme", "doc-1", Reason.TAMPERED, new Sealer(confused));
        assertThat(confused.cachedDekCount()).isEqualTo(1);
    }

    @Test
    void theSameDekReWrappedUnderANewKekVersion_opens_withoutTheRecordBeingTouched() throws Exception {
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        EnvelopeHeader h = EnvelopeHeader.parse(envelope);
        LocalKms local = new LocalKms(dir);
        local.rotate("tenant-acme");
        byte[] binding = io.embedseal.keyring.dek.DekFactory.associatedData("acme", h.dekId());
        byte[] dek = local.unwrapDek(h.kek(), h.wrappedDek(), binding);
        io.embedseal.keyring.kms.WrappedDek rewrapped = local.wrapDek("tenant-acme", dek, binding);
        Arrays.fill(dek, (byte) 0);

        byte[] moved = EnvelopeHeader.withKeySlot(envelope, rewrapped.kek(), rewrapped.wrapped());
        local.restrictVersions("tenant-acme", 2);

        assertThat(rewrapped.kek().version()).isEqualTo(2);
        assertThat(Arrays.copyOfRange(moved, moved.length - h.ciphertextLength(), moved.length))
                .isEqualTo(Arrays.copyOfRange(envelope, h.ciphertextOffset(), envelope.length));
        assertThat(new Sealer(Keyring.of(new LocalKms(dir)))
                        .unseal(moved, "acme", "doc-1")
                        .plaintext())
                .isEqualTo(PAYLOAD);
        assertReason(envelope, "acme", "doc-1", Reason.KEY_REVOKED, new Sealer(Keyring.of(new LocalKms(dir))));
    }

    @Test
    void aVersion1Envelope_cannotBeReWrappedInPlace() {
        byte[] v1 = sealer.sealVersion1("acme", "doc-1", PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        EnvelopeHeader h = EnvelopeHeader.parse(v1);

        assertThatThrownBy(() -> EnvelopeHeader.withKeySlot(v1, h.kek(), h.wrappedDek()))
                .isInstanceOfSatisfying(
                        EnvelopeException.class, e -> assertThat(e.reason()).isEqualTo(Reason.UNSUPPORTED_VERSION));
    }

    @Test
    void rewrittenRecordVersion_failsAuthentication() {
        byte[] envelope =
                sealer.seal("acme", "doc-1", new RecordVersion(1_000, 1), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        EnvelopeHeader h = EnvelopeHeader.parse(envelope);
        int at = h.associatedDataLength() - 4 - 16 - 1 - RecordVersion.BYTES; // before the DEK id and the length
        new RecordVersion(9_999_999, 1).writeTo(envelope, at);

        assertThat(EnvelopeHeader.parse(envelope).recordVersion()).isEqualTo(new RecordVersion(9_999_999, 1));
        assertReason(envelope, "acme", "doc-1", Reason.TAMPERED);
    }

    @Test
    void anotherPurpose_isWrongBinding_andVersion1CanBeRefused() {
        byte[] forDlq = sealer.withPurpose("dead-letters")
                .seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] v1 = sealer.sealVersion1("acme", "doc-1", PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);

        assertReason(forDlq, "acme", "doc-1", Reason.WRONG_BINDING);
        assertThat(sealer.unseal(v1, "acme", "doc-1").header().recordVersion()).isEqualTo(RecordVersion.NONE);
        assertReason(
                v1,
                "acme",
                "doc-1",
                Reason.UNSUPPORTED_VERSION,
                new Sealer(sealer.keyring(), "embeddings.sealed", false));
        assertThatThrownBy(() -> sealer.withPurpose("has space")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void deleteMarker_opensEmpty_andCarriesItsVersion() {
        byte[] marker = sealer.sealDeleteMarker("acme", "doc-1", new RecordVersion(5, 6));

        Unsealed opened = sealer.unseal(marker, "acme", "doc-1");

        assertThat(opened.plaintext()).isEmpty();
        assertThat(opened.header().payloadType()).isEqualTo(PayloadType.DELETE_MARKER);
        assertThat(opened.header().recordVersion()).isEqualTo(new RecordVersion(5, 6));
        assertThat(new RecordVersion(5, 6).isOlderThan(new RecordVersion(5, 7))).isTrue();
        assertThat(new RecordVersion(5, 6).isOlderThan(new RecordVersion(4, Long.MAX_VALUE)))
                .isFalse();
    }

    @Test
    void aDekThisThreadOpenedWith_servesTheNextEnvelope_andEveryAlteredOneGetsTheVerdictOfAFullOpen() {
        byte[] first = sealer.seal("acme", "doc-0", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        Unsealed warm = sealer.unseal(first, "acme", "doc-0");

        Unsealed fast = sealer.unseal(envelope, "acme", "doc-1");

        assertThat(fast.plaintext()).isEqualTo(PAYLOAD);
        assertThat(fast.header().kek())
                .as("served by the thread's table")
                .isSameAs(warm.header().kek());
        assertThat(fast.header().toString())
                .isEqualTo(EnvelopeHeader.parse(envelope).toString());
        // Every single-bit flip and every truncation: the same verdict from the sealer that knows the DEK as from one
        // that knows nothing (a new Sealer for each, on the same keyring), and never an open.
        List<byte[]> altered = new ArrayList<>();
        for (int bit = 0; bit < envelope.length * 8; bit++) {
            byte[] flipped = envelope.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            altered.add(flipped);
        }
        for (int len = 0; len < envelope.length; len++) {
            altered.add(Arrays.copyOf(envelope, len));
        }
        altered.add(Arrays.copyOf(envelope, envelope.length + 1));
        for (byte[] a : altered) {
            sealer.unseal(first, "acme", "doc-0"); // the DEK stays known
            Reason known = reasonOf(() -> sealer.unseal(a, "acme", "doc-1"));
            Reason full = reasonOf(() -> new Sealer(sealer.keyring()).unseal(a, "acme", "doc-1"));
            assertThat(known).as("envelope of %d bytes", a.length).isNotNull().isEqualTo(full);
        }
        // And the binding: the same envelope for another record or tenant, or another purpose.
        sealer.unseal(first, "acme", "doc-0");
        assertReason(envelope, "acme", "doc-2", Reason.WRONG_BINDING);
        assertReason(envelope, "acmf", "doc-1", Reason.WRONG_BINDING);
        assertThatThrownBy(() -> sealer.withPurpose("other.purpose").unseal(envelope, "acme", "doc-1"))
                .isInstanceOfSatisfying(
                        EnvelopeException.class, e -> assertThat(e.reason()).isEqualTo(Reason.WRONG_BINDING));
    }

    @Test
    void aDeleteMarkerWithAPayload_isMalformed_alsoUnderAKnownDek() {
        sealer.unseal(
                sealer.seal("acme", "doc-0", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD),
                "acme",
                "doc-0");
        byte[] marker = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.DELETE_MARKER, PAYLOAD);

        assertReason(marker, "acme", "doc-1", Reason.MALFORMED);
    }

    @Test
    void aDekTheKeyringDestroyed_isNotServedByTheTable_soARevocationBitesAtOnce() throws Exception {
        byte[] first = sealer.seal("acme", "doc-0", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] envelope = sealer.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        sealer.unseal(first, "acme", "doc-0");
        new LocalKms(dir).destroy("tenant-acme"); // the tenant destroys its key...

        // ...and until this instance applies the key event, DEKs in memory still open its records (the defence off):
        assertThat(sealer.unseal(envelope, "acme", "doc-1").plaintext()).isEqualTo(PAYLOAD);

        sealer.keyring().evict("acme"); // the key event applied: every DEK of the tenant in memory destroyed

        assertReason(envelope, "acme", "doc-1", Reason.KEY_UNKNOWN);
        assertReason(first, "acme", "doc-0", Reason.KEY_UNKNOWN);
    }

    @Test
    void aKnownDekDestroyedWhileInUse_isReportedAsOnTheFullPath_notOpenedAgainBehindTheCallersBack() {
        // A naming that, once armed, evicts the tenant when asked for its KEK name: that is, right after the fast
        // path saw the DEK alive and just before it uses it (a revocation applied by another thread at that moment).
        java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
        io.embedseal.keyring.KekNaming naming = io.embedseal.keyring.KekNaming.defaults();
        Keyring[] keyring = new Keyring[1];
        LocalKms kms = new LocalKms(dir);
        keyring[0] = Keyring.builder(kms)
                .createMissingKeys(kms::createKek)
                .naming(new io.embedseal.keyring.KekResolver() {
                    @Override
                    public String kekNameFor(String tenant) {
                        if (armed.getAndSet(false)) {
                            keyring[0].evict(tenant);
                        }
                        return naming.kekNameFor(tenant);
                    }

                    @Override
                    public @org.jspecify.annotations.Nullable String tenantFor(String keyName) {
                        return naming.tenantFor(keyName);
                    }
                })
                .build();
        Sealer s = new Sealer(keyring[0]);
        byte[] first = s.seal("acme", "doc-0", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] envelope = s.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        s.unseal(first, "acme", "doc-0"); // the DEK is known now

        armed.set(true);

        // Falling back to a full open here would unwrap the DEK again through the KMS and open a record of a tenant
        // that may just have been revoked; the caller must look at the tenant's state first, as on the full path.
        assertReason(envelope, "acme", "doc-1", Reason.KMS_UNAVAILABLE, s);
        assertThat(s.unseal(envelope, "acme", "doc-1").plaintext())
                .as("asked again (the tenant was only evicted): it opens")
                .isEqualTo(PAYLOAD);
    }

    @Test
    void aKnownDekWhoseKekIsNoLongerTheTenants_isWrongBinding_onTheNextUse() {
        // A tenant migrated to another key name: the directory says so before its DEKs are evicted. An envelope under
        // the old KEK must then be refused as the full path refuses it, not opened with the DEK this thread knows.
        java.util.concurrent.atomic.AtomicReference<String> name = new java.util.concurrent.atomic.AtomicReference<>();
        io.embedseal.keyring.KekNaming naming = io.embedseal.keyring.KekNaming.defaults();
        LocalKms kms = new LocalKms(dir);
        Sealer s = new Sealer(Keyring.builder(kms)
                .createMissingKeys(kms::createKek)
                .naming(new io.embedseal.keyring.KekResolver() {
                    @Override
                    public String kekNameFor(String tenant) {
                        String n = name.get();
                        return n != null ? n : naming.kekNameFor(tenant);
                    }

                    @Override
                    public @org.jspecify.annotations.Nullable String tenantFor(String keyName) {
                        return naming.tenantFor(keyName);
                    }
                })
                .build());
        byte[] first = s.seal("acme", "doc-0", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        byte[] envelope = s.seal("acme", "doc-1", RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, PAYLOAD);
        s.unseal(first, "acme", "doc-0"); // the DEK is known now

        name.set("tenant-acme-migrated");

        assertReason(envelope, "acme", "doc-1", Reason.WRONG_BINDING, s);
    }

    private static @org.jspecify.annotations.Nullable Reason reasonOf(Runnable open) {
        try {
            open.run();
            return null;
        } catch (EnvelopeException e) {
            return e.reason();
        }
    }

    private void assertReason(byte[] envelope, String tenant, String id, Reason reason) {
        assertReason(envelope, tenant, id, reason, sealer);
    }

    private static void assertReason(byte[] envelope, String tenant, String id, Reason reason, Sealer s) {
        assertThatThrownBy(() -> s.unseal(envelope, tenant, id))
                .isInstanceOfSatisfying(
                        EnvelopeException.class, e -> assertThat(e.reason()).isEqualTo(reason));
    }
}
