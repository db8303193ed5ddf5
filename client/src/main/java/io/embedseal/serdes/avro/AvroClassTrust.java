package io.embedseal.serdes.avro;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.schemas.SignedKeyEvent;
import org.apache.avro.util.ClassSecurityValidator;

/**
 * Avro 1.12 instantiates only classes it trusts when it reads specific records. This adds exactly the
 * classes generated from embedseal's own schemas to whatever the JVM already trusts, once; nothing named by
 * a schema from the wire is trusted because of it.
 */
public final class AvroClassTrust {

    private static boolean installed;

    private AvroClassTrust() {}

    /** Idempotent; safe to call from any static initializer that builds a specific reader. */
    public static synchronized void install() {
        if (installed) {
            return;
        }
        ClassSecurityValidator.ClassSecurityPredicate ours = ClassSecurityValidator.builder()
                .add(EmbeddingEvent.class)
                .add(KeyEvent.class)
                .add(KeyEventType.class)
                .add(SignedKeyEvent.class)
                .build();
        ClassSecurityValidator.setGlobal(ClassSecurityValidator.composite(ClassSecurityValidator.getGlobal(), ours));
        installed = true;
    }
}
