"""What the daemon keeps between runs: the owner's config (and its watch), the check history,
the remembered devices and the Safe 7 pairing credentials in the keyring. It knows neither the
device side nor the bus."""
