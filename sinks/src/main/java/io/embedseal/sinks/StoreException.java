package io.embedseal.sinks;

import org.jspecify.annotations.Nullable;

/** A store failed. {@link #retriable()} says whether redelivering the same records may succeed later. */
public class StoreException extends RuntimeException {

    private final boolean retriable;

    public StoreException(String message, @Nullable Throwable cause, boolean retriable) {
        super(message, cause);
        this.retriable = retriable;
    }

    public boolean retriable() {
        return retriable;
    }
}
