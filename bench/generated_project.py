"""A generated dbt project of N models, for measuring orchestration overhead at 50 or 200 models.

One seed (`events`, 2,000 rows) feeds `layers` layers of table models; each model reads one or two
models of the layer above (fixed pseudo-random choice), aggregates or filters a little, and has a
primary key tested `unique` + `not_null`, like a real warehouse's nodes. Its profile `bench` reads
the same WAREHOUSE_* variables as the project's own `profiles.yml`, into schema `bench_generated`.
"""

from __future__ import annotations

import random
from pathlib import Path

SCHEMA = "bench_generated"
PROFILES = """\
bench:
  target: bench
  outputs:
    bench:
      type: postgres
      host: "{{ env_var('WAREHOUSE_HOST') }}"
      port: "{{ env_var('WAREHOUSE_PORT') | as_number }}"
      user: "{{ env_var('WAREHOUSE_USER') }}"
      password: "{{ env_var('WAREHOUSE_PASSWORD') }}"
      dbname: "{{ env_var('WAREHOUSE_DB') }}"
      schema: SCHEMA
      threads: 4
""".replace("SCHEMA", SCHEMA)


def _model_sql(parents: list[str], index: int) -> str:
    if len(parents) == 1:
        return (
            f"select id, grp, amount * {1 + index % 3} as amount, note\n"
            f"from {{{{ ref('{parents[0]}') }}}}\nwhere amount >= 0\n"
        )
    left, right = parents
    return (
        f"select l.id, l.grp, l.amount + coalesce(r.amount, 0) as amount, l.note\n"
        f"from {{{{ ref('{left}') }}}} as l\nleft join {{{{ ref('{right}') }}}} as r using (id)\n"
    )


def write_project(folder: Path, models: int, layers: int = 8, seed: int = 1) -> Path:
    """Write the project into `folder` (created) and return it."""
    rng = random.Random(seed)
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "seeds").mkdir(exist_ok=True)
    (folder / "dbt_project.yml").write_text(
        "name: bench_generated\nversion: '1.0'\nprofile: bench\n"
        "models:\n  bench_generated:\n    +materialized: table\n"
    )
    (folder / "profiles.yml").write_text(PROFILES)
    rows = ["id,grp,amount,note"] + [f"{i},{i % 17},{(i * 37) % 1000 / 10:.1f},n{i % 5}" for i in range(2000)]
    (folder / "seeds" / "events.csv").write_text("\n".join(rows) + "\n")

    per_layer = max(1, models // layers)
    names: list[list[str]] = []
    yaml = ["version: 2", "models:"]
    for index in range(models):
        layer = min(index // per_layer, layers - 1)
        if layer == len(names):
            names.append([])
        name = f"m{layer:02d}_{index:04d}"
        if layer == 0:
            keep = 1 + index % 4
            sql = f"select id, grp, amount, note from {{{{ ref('events') }}}} where id % {keep} = 0\n"  # noqa: S608
        else:
            above = names[layer - 1]
            sql = _model_sql(rng.sample(above, min(len(above), rng.choice((1, 2)))), index)
        (folder / "models" / f"{name}.sql").write_text(sql)
        names[layer].append(name)
        yaml += [f"  - name: {name}", "    columns:", "      - name: id"]
        yaml += ["        data_tests: [unique, not_null]"]
    (folder / "models" / "_models.yml").write_text("\n".join(yaml) + "\n")
    return folder
