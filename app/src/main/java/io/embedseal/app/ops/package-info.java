/** Operator commands: tenants, keys (rotate, revoke, restore, destroy), status, dead-letter and audit inspection. */
package io.embedseal.app.ops;
