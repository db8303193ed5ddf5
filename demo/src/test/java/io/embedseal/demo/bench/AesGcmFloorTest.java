package io.embedseal.demo.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.app.ops.SyntheticEmbeddings;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import java.nio.file.Path;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bench's floor does what it claims: records of exactly the sealed size, the header authenticated, the body really
 * encrypted under a fresh nonce each time. Otherwise its ratio would compare the pipeline with a cheaper thing.
 */
class AesGcmFloorTest {

    @Test
    void writesRecordsOfTheSealedSize_withTheHeaderAuthenticatedAndTheBodyEncrypted(@TempDir Path dir)
            throws Exception {
        String tenant = "tenant-000";
        new LocalKms(dir).createKek("tenant-" + tenant);
        int dims = 384;
        byte[] header = PipelineBench.envelopeHeader(dir, dims, tenant);
        byte[] sealed = PipelineBench.sealFirst(dir, dims, tenant);
        EmbeddingEvent first = new SyntheticEmbeddings(dims * 31L, dims).event(tenant, 0);
        byte[] wire = EmbeddingEventCodec.encodeWire(1, first);
        byte[] key = new byte[32];
        Arrays.fill(key, (byte) 7);
        AesGcmFloor floor = new AesGcmFloor(header, new SecretKeySpec(key, "AES"));

        byte[] out = floor.apply(wire);
        byte[] again = floor.apply(wire);

        assertThat(out).hasSameSizeAs(sealed);
        assertThat(Arrays.copyOf(out, header.length)).isEqualTo(header);
        assertThat(Arrays.copyOfRange(out, header.length, header.length + 12))
                .as("a fresh nonce per record")
                .isNotEqualTo(Arrays.copyOfRange(again, header.length, header.length + 12));
        byte[] body = Arrays.copyOfRange(wire, EmbeddingEventCodec.PREFIX_LENGTH, wire.length);
        assertThat(decrypt(key, out, header.length, header)).isEqualTo(body);
        byte[] otherHeader = header.clone();
        otherHeader[header.length - 1] ^= 1;
        assertThatThrownBy(() -> decrypt(key, out, header.length, otherHeader)).isInstanceOf(AEADBadTagException.class);
    }

    private static byte[] decrypt(byte[] key, byte[] record, int headerLength, byte[] aad) throws Exception {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, record, headerLength, 12));
        c.updateAAD(aad);
        return c.doFinal(record, headerLength + 12, record.length - headerLength - 12);
    }
}
