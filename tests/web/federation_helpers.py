"""What the federation tests of the web app share: the settings of a server that federates with
stand-ins on loopback (over http, private addresses allowed) as `local.test`."""
from __future__ import annotations

LOOPBACK_FEDERATION: dict[str, object] = {
    "federation_enabled": True, "federation_allow_http": True, "federation_allow_private_addresses": True,
    "public_url": "http://local.test", "server_name": "local.test"}
