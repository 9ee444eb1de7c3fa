"""The Bắc Ninh demo: its organisations and a modest, deterministic set of assets. Pure data.

Four organisations — the power company, the water utility, the transport department and the city
— and, in each of the eight district-level areas of 2023, a few assets of every sector owned by the
organisation that runs that sector. Positions are near each area's centre (approximate, for the map;
not surveyed). ``hatang seed`` loads them; nothing else depends on them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: slug -> name.
ORGANISATIONS: dict[str, str] = {
    "evn-bac-ninh": "Công ty Điện lực Bắc Ninh",
    "nuoc-sach-bac-ninh": "Công ty CP Nước sạch Bắc Ninh",
    "so-gtvt-bac-ninh": "Sở Giao thông Vận tải Bắc Ninh",
    "ubnd-bac-ninh": "UBND tỉnh Bắc Ninh",
}
#: The organisation the demo admin key belongs to (admins are city-wide whatever their organisation).
ADMIN_ORGANISATION = "ubnd-bac-ninh"

# Approximate centres (lat, lon) of the 2023 district-level units.
_CENTRES: dict[str, tuple[float, float]] = {
    "bac-ninh-city": (21.1861, 106.0763),
    "tu-son": (21.1170, 105.9570),
    "que-vo": (21.1460, 106.1560),
    "thuan-thanh": (21.0480, 106.0850),
    "yen-phong": (21.2060, 105.9580),
    "tien-du": (21.1280, 106.0200),
    "gia-binh": (21.0660, 106.1830),
    "luong-tai": (21.0280, 106.2250),
}

# (sector, kind, id prefix, owner, how many per area, essential, Vietnamese name)
_KINDS: tuple[tuple[str, str, str, str, int, bool, str], ...] = (
    ("transport", "intersection", "int", "so-gtvt-bac-ninh", 2, True, "Nút giao"),
    ("transport", "road_segment", "road", "so-gtvt-bac-ninh", 1, True, "Đoạn đường"),
    ("electricity", "substation", "sub", "evn-bac-ninh", 1, True, "Trạm biến áp 110kV"),
    ("electricity", "transformer", "xfmr", "evn-bac-ninh", 2, True, "Máy biến áp phân phối"),
    ("electricity", "feeder", "fdr", "evn-bac-ninh", 1, True, "Xuất tuyến trung thế"),
    ("energy", "solar_plant", "pv", "evn-bac-ninh", 1, True, "Điện mặt trời mái nhà"),
    ("water", "pumping_station", "ps", "nuoc-sach-bac-ninh", 1, True, "Trạm bơm"),
    ("water", "water_main", "wm", "nuoc-sach-bac-ninh", 1, True, "Tuyến ống chính"),
    ("urban", "street_light_circuit", "slc", "ubnd-bac-ninh", 2, True, "Tủ điện chiếu sáng"),
    ("urban", "park", "park", "ubnd-bac-ninh", 1, False, "Công viên"),
)


@dataclass(frozen=True, slots=True)
class DemoAsset:
    """One demo asset, as a bulk-upload row."""

    external_id: str
    organisation: str
    area: str
    sector: str
    kind: str
    name: str
    lat: float
    lon: float
    essential: bool


def demo_assets() -> list[DemoAsset]:
    """Every demo asset (88), in a stable order."""
    assets = []
    for area, (lat, lon) in _CENTRES.items():
        for index, (sector, kind, prefix, owner, count, essential, name) in enumerate(_KINDS):
            for n in range(1, count + 1):
                # A small fixed offset per asset spreads the markers around the centre (~1-3 km).
                dlat = ((index * 7 + n * 3) % 11 - 5) * 0.004
                dlon = ((index * 5 + n * 7) % 13 - 6) * 0.004
                assets.append(
                    DemoAsset(
                        external_id=f"{prefix}-{area}-{n:02d}", organisation=owner, area=area, sector=sector,
                        kind=kind, name=f"{name} {n}", lat=round(lat + dlat, 5), lon=round(lon + dlon, 5),
                        essential=essential,
                    )
                )  # fmt: skip
    return assets
