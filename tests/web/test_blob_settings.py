"""blob_direct_io: how new blobs reach the disk (README "Storage"): through the page cache unless
the setting asks for O_DIRECT; either way an upload stores the same bytes."""
from __future__ import annotations

import io

import pytest
from media_helpers import download, local, png, ticket

from pufferd.config import Settings
from pufferd.web.keys import CTX


def test_new_blobs_go_through_the_page_cache_by_default():
    assert Settings.model_fields["blob_direct_io"].default is False


@pytest.fixture(params=[False, True], ids=["page-cache", "direct-io"])
def settings_overrides(request) -> dict[str, object]:
    return {"blob_direct_io": request.param}


async def test_the_setting_reaches_the_store_and_uploads_keep_their_bytes(client, alice, settings):
    ctx = client.app[CTX]
    assert ctx.blobs.direct_io is settings.blob_direct_io
    data = png(5 * 1024 * 1024 // 2 + 123)  # batches of 1 MiB, and a partial block
    t = await ticket(client, alice, size=len(data))
    resp = await client.put(local(t["upload_url"]), data=io.BytesIO(data), headers=t["required_headers"])
    assert resp.status == 200, await resp.text()
    resp = await download(client, alice, t)
    assert resp.status == 200 and await resp.read() == data
