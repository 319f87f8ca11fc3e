import sys,json,statistics,collections
d=collections.defaultdict(list)
for line in open(sys.argv[1]):
    v,js=line.split(' ',1); js=js.strip().rstrip(',')
    r=json.loads(js); d[(r['id'],r['engine'],v)].append(r)
keys=sorted(d, key=lambda k:(int(k[0][1:]),k[1],k[2]))
for k in keys:
    rs=d[k]; m=statistics.median(x['median'] for x in rs); cpu=statistics.median(x['cpu_s_per_million'] for x in rs); cs=statistics.median(x['csw_per_million'] for x in rs)
    print(f"{k[0]:4} {k[1]:9} {k[2]:4} {rs[0]['unit']:20} med {m:10.3f}  cpu/M {cpu:7.3f}  cs/M {cs:10.0f}  n={len(rs)}")
