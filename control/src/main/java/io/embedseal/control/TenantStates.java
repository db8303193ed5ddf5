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
 * compacted-away record cannot change it. Format 1: a version byte, then the fields in order.
 */
public final class TenantStates {

    private static final int FORMAT = 1;

    private TenantStates() {}

    public static byte[] encode(TenantState s) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(128);
        try (DataOutputStream out = new DataOutputStream(b)) {
            out.writeByte(FORMAT);
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
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return b.toByteArray();
    }

    /** @throws IllegalArgumentException if the bytes are not a stored tenant state (a store from an older version) */
    public static TenantState decode(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            if (in.readByte() != FORMAT) {
                throw new IllegalArgumentException("not a stored tenant state of format " + FORMAT);
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
            if (in.available() != 0) {
                throw new IllegalArgumentException("trailing bytes after a stored tenant state");
            }
            return new TenantState(tenant, status, kms, kek, version, last, since, seq, authority);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("not a stored tenant state", e);
        }
    }
}
