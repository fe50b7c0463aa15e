#!/usr/bin/env python3
"""Seeds the fuzz corpora from the test material in the repository.

decode_raw: every packet of tests/data/{valid,valid-alt,invalid}.jsonl, behind control
bytes that pick each kind of decoder (see mqtt_sansio::fuzz::decode_raw).
server_ops: what the client sent in the recorded MQTT 5 session of examples/capture
(mosquitto_sub against mosquitto), cut into the raw-bytes operation of
mqtt_sansio::fuzz::server_ops, and every client-to-server packet of the corpus the same
way.

Usage: python3 fuzz/seed.py   (writes fuzz/corpus/<target>/seed-*; idempotent)
"""
import hashlib
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def write(target, data):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()
    (directory / name).write_bytes(data)


def raw_ops(data, control):
    """server_ops input: `control`, then raw-bytes operations of at most 31 bytes."""
    out = bytearray([control])
    for i in range(0, len(data), 31):
        piece = data[i : i + 31]
        out += bytes([1, len(piece)]) + piece
    return bytes(out)


def main():
    count = 0
    for name in ("valid.jsonl", "valid-alt.jsonl", "invalid.jsonl"):
        for line in (ROOT / "tests" / "data" / name).read_text().splitlines():
            record = json.loads(line)
            packet = bytes.fromhex(record["hex"])
            # 0..4 pick the decoder kind; 40 and 79 vary the chunking and the limit.
            for control in (0, 1, 2, 3, 4, 40, 79):
                write("decode_raw", bytes([control]) + packet)
                count += 1
            if record.get("direction") in (None, "to_server", "either"):
                write("server_ops", raw_ops(packet, 0))
                count += 1
    text = (ROOT / "examples" / "capture" / "mqtt5_session.in").read_text()
    sent = b"".join(
        bytes.fromhex(line.split('"')[1])
        for line in text.splitlines()
        if "From::Client" in line
    )
    write("server_ops", raw_ops(sent, 0))
    print(f"{count + 1} seeds written under {CORPUS}")


if __name__ == "__main__":
    main()
