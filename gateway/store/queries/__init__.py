"""Store queries, one module per aggregate; `gateway.store.tx.Tx` composes them."""
