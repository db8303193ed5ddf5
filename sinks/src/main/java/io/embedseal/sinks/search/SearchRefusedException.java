package io.embedseal.sinks.search;

/**
 * A search the tenant's key does not allow (REVOKED, DESTROYED, or the KMS refuses): a refusal, never an empty result.
 */
public final class SearchRefusedException extends RuntimeException {

    private final String tenantId;
    private final String status;

    public SearchRefusedException(String tenantId, String status, String message) {
        super(message);
        this.tenantId = tenantId;
        this.status = status;
    }

    public String tenantId() {
        return tenantId;
    }

    /** REVOKED, DESTROYED or DENIED (the KMS said no without a key event saying why). */
    public String status() {
        return status;
    }
}
