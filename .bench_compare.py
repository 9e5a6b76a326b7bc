import json, sys, statistics
def load(p):
    return {(r["size"], r["bench"], r["variant"]): r["time"] for r in json.load(open(p))}
mains = [load(f"/tmp/sizes20_bench_main_{i}.json") for i in (1, 2, 3)]
mine = [load(f"/tmp/sizes20_bench_mine_{i}.json") for i in (1, 2, 3)]
for k in mains[0]:
    a = min(m[k] for m in mains if k in m); b = min(m[k] for m in mine if k in m)
    print(f"{k[0]:>8} {k[1][:34]:34} {k[2][:10]:10} main {a*1e6:10.1f}us  mine {b*1e6:10.1f}us  ratio {b/a:5.2f}")
