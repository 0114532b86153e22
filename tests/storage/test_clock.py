import datetime as dt

from sciseek.storage.clock import iso, iso_z, utcnow


def test_utcnow_is_aware_utc():
    now = utcnow()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)


def test_the_two_timestamp_forms():
    t = dt.datetime(2024, 5, 1, 14, 0, 7, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert iso(t) == "2024-05-01T12:00:07+00:00"
    assert iso_z(t) == "2024-05-01T12:00:07Z"
    assert dt.datetime.fromisoformat(iso_z(t)) == dt.datetime.fromisoformat(iso(t))
