package io.embedseal.topology;

import io.embedseal.schemas.KeyEvent;
import org.jspecify.annotations.Nullable;

/**
 * A key event this instance applied or refused, for the audit trail.
 *
 * @param event    the event
 * @param accepted false when it was refused (a destroyed tenant stays destroyed)
 * @param note     why it was refused, or null
 */
public record KeyEventApplied(
        KeyEvent event, boolean accepted, @Nullable String note) {}
