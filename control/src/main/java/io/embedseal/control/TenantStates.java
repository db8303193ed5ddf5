package io.embedseal.control;

import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;

/**
 * A tenant's admitted state as a reader keeps it in its own storage (the pipeline's tenant store): the result of
 * the gate's rules, not a topic record, so a restart resumes from what was verified and a later forged or
 * compacted-away record cannot change it. A version byte, then the fields in order; format 2 adds the pinned public
 * KEK (base64 X.509) and is written only for tenants that have one, so a store written by
 * this version for symmetric tenants still reads in the version before.
 */
public final class TenantStates {

    private static final int FORMAT = 1;
    private static final int FORMAT_PUBLIC_KEY = 2;

    private TenantStates() {}

    public static byte[] encode(TenantState s) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(128);
        try (DataOutputStream out = new DataOutputStream(b)) {
            String publicKey = s.kekPublicKey();
            out.writeByte(publicKey == null ? FORMAT : FORMAT_PUBLIC_KEY);
            out.writeUTF(s.tenantId());
            out.writeUTF(s.status().name());
            out.writeUTF(s.kms());
            out.writeUTF(s.kekName());
            out.writeInt(s.kekVersion());
            out.writeUTF(s.lastEvent());
            out.writeLong(s.since().toEpochMilli());
            out.writeLong(s.sequence());
            out.writeBoolean(s.authority() != null);
            if (s.authority() != null) {
                out.writeUTF(s.authority());
            }
            if (publicKey != null) {
                out.writeUTF(publicKey);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return b.toByteArray();
    }

    /** @throws IllegalArgumentException if the bytes are not a stored tenant state (a store from an older version) */
    public static TenantState decode(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            int format = in.readByte();
            if (format != FORMAT && format != FORMAT_PUBLIC_KEY) {
                throw new IllegalArgumentException(
                        "not a stored tenant state of format " + FORMAT + " or " + FORMAT_PUBLIC_KEY);
            }
            String tenant = in.readUTF();
            TenantStatus status = TenantStatus.valueOf(in.readUTF());
            String kms = in.readUTF();
            String kek = in.readUTF();
            int version = in.readInt();
            String last = in.readUTF();
            Instant since = Instant.ofEpochMilli(in.readLong());
            long seq = in.readLong();
            String authority = in.readBoolean() ? in.readUTF() : null;
            String publicKey = format == FORMAT_PUBLIC_KEY ? in.readUTF() : null;
            if (in.available() != 0) {
                throw new IllegalArgumentException("trailing bytes after a stored tenant state");
            }
            return new TenantState(tenant, status, kms, kek, version, last, since, seq, authority, publicKey);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("not a stored tenant state", e);
        }
    }
}
