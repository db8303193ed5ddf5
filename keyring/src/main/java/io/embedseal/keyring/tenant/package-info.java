/** What the pipeline knows of each tenant from the key-event topic: its state and its KEK. */
package io.embedseal.keyring.tenant;
