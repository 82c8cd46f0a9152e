# Records load-balancing sequences from the real haproxy for
# Usage: python3 be.py-style echo servers on 22041-22044 must run (each answers
# its name), then: python3 record_sequences.py haproxy > haproxy_sequences.json
# proxy/balance/testdata/haproxy_sequences.json (run from /tmp).
import socket, subprocess, time, json, sys
SC = [
 {"name":"roundrobin 5:3:1 with disable/enable","balance":"roundrobin","servers":[["s1",5],["s2",3],["s3",1]],
  "ops":[{"n":27},{"disable":"s2"},{"n":12},{"enable":"s2"},{"n":27}]},
 {"name":"roundrobin 2:7:3:1 with runtime weight","balance":"roundrobin","servers":[["s1",2],["s2",7],["s3",3],["s4",1]],
  "ops":[{"n":26},{"weight":["s3",10]},{"n":23},{"weight":["s2",0]},{"n":10},{"weight":["s2",4]},{"n":20}]},
 {"name":"uri consistent default (sdbm+avalanche)","balance":"uri","hash":"consistent","servers":[["s1",1],["s2",1],["s3",1],["s4",1]],
  "ops":[{"uris":["/k%d"%i for i in range(40)]},{"disable":"s2"},{"uris":["/k%d"%i for i in range(40)]}]},
 {"name":"uri whole consistent sdbm avalanche weighted","balance":"uri whole","hash":"consistent sdbm avalanche","servers":[["s1",2],["s2",1],["s3",3]],
  "ops":[{"uris":["/k%d?x=%d"%(i,i*7) for i in range(40)]}]},
 {"name":"uri consistent djb2","balance":"uri","hash":"consistent djb2","servers":[["s1",1],["s2",1],["s3",1]],
  "ops":[{"uris":["/k%d"%i for i in range(30)]}]},
 {"name":"uri map-based weighted","balance":"uri","servers":[["s1",3],["s2",2],["s3",1]],
  "ops":[{"uris":["/p%d"%i for i in range(30)]},{"disable":"s1"},{"uris":["/p%d"%i for i in range(30)]}]},
 {"name":"uri depth 2 len 6 map-based wt6","balance":"uri depth 2 len 6","hash":"map-based wt6","servers":[["s1",1],["s2",1],["s3",1]],
  "ops":[{"uris":["/a/b%d/c"%i for i in range(10)]+["/abcdefgh%d"%i for i in range(10)]}]},
 {"name":"hdr map-based weighted","balance":"hdr(x-k)","servers":[["s1",1],["s2",2],["s3",1]],
  "ops":[{"hdrs":["v%d"%i for i in range(30)]},{"hdrs":[None]*8},{"hdrs":["a%d, b"%i for i in range(8)]}]},
 {"name":"static-rr 3:2:1 with disable/enable","balance":"static-rr","servers":[["s1",3],["s2",2],["s3",1]],
  "ops":[{"n":14},{"disable":"s1"},{"n":7},{"enable":"s1"},{"n":9}]},
 {"name":"allbackups weighted","balance":"roundrobin","allbackups":True,"servers":[["s1",1],["s2",2,"backup"],["s3",1,"backup"]],
  "ops":[{"n":4},{"disable":"s1"},{"n":9},{"disable":"s2"},{"n":3}]},
 {"name":"first backup only","balance":"roundrobin","servers":[["s1",1],["s2",2,"backup"],["s3",1,"backup"]],
  "ops":[{"disable":"s1"},{"n":4},{"disable":"s2"},{"n":3},{"enable":"s2"},{"n":3}]},
 {"name":"source consistent","balance":"source","hash":"consistent","servers":[["s1",1],["s2",1],["s3",1]],
  "ops":[{"srcs":["127.0.%d.%d"%(i%3,i+2) for i in range(30)]},{"disable":"s3"},{"srcs":["127.0.%d.%d"%(i%3,i+2) for i in range(30)]}]},
 {"name":"source map-based","balance":"source","servers":[["s1",1],["s2",3],["s3",2]],
  "ops":[{"srcs":["127.%d.%d.%d"%(i,i*3%250,i+2) for i in range(30)]}]},
 {"name":"url_param consistent with weight change","balance":"url_param id","hash":"consistent","servers":[["s1",1],["s2",1],["s3",1],["s4",3]],
  "ops":[{"uris":["/x?a=1&id=%d"%i for i in range(30)]},{"weight":["s4",1]},{"uris":["/x?a=1&id=%d"%i for i in range(30)]}]},
 {"name":"url_param fallback roundrobin consistent","balance":"url_param id","hash":"consistent","servers":[["s1",1],["s2",1],["s3",1]],
  "ops":[{"uris":["/none"]*9}]},
 {"name":"leastconn idle","balance":"leastconn","servers":[["s1",1],["s2",2],["s3",3]],"ops":[{"n":12}]},
 {"name":"first idle","balance":"first","servers":[["s1",1],["s2",1]],"ops":[{"n":4},{"disable":"s1"},{"n":2}]},
]
BASE=22041
def cfg(sc):
    lines=["global","    stats socket /tmp/bal/cmp/gen.sock level admin","defaults","    mode http","    timeout connect 1s","    timeout client 5s","    timeout server 5s",
           "frontend f","    bind 127.0.0.1:22030","    default_backend b","backend b","    balance "+sc["balance"]]
    if "hash" in sc: lines.append("    hash-type "+sc["hash"])
    if sc.get("allbackups"): lines.append("    option allbackups")
    for i,s in enumerate(sc["servers"]):
        lines.append("    server %s 127.0.0.1:%d weight %d%s"%(s[0],BASE+i,s[1]," backup" if len(s)>2 else ""))
    return "\n".join(lines)+"\n"
def get(path="/", hdr=None, src=None):
    s=socket.socket()
    if src: s.bind((src,0))
    s.connect(('127.0.0.1',22030))
    h="" if hdr is None else "x-k: %s\r\n"%hdr
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{h}Connection: close\r\n\r\n".encode())
    d=b''
    while True:
        x=s.recv(4096)
        if not x: break
        d+=x
    s.close()
    h,_,b=d.partition(b'\r\n\r\n')
    st=h.split(b' ')[1].decode()
    return b.decode() if st=='200' else st
def cli(cmd):
    s=socket.socket(socket.AF_UNIX); s.connect('/tmp/bal/cmp/gen.sock'); s.sendall((cmd+"\n").encode()); s.recv(65536); s.close()
prog=sys.argv[1:]
for sc in SC:
    open('/tmp/bal/cmp/gen.cfg','w').write(cfg(sc))
    p=subprocess.Popen(prog+['-db','-f','/tmp/bal/cmp/gen.cfg'],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        for op in sc["ops"]:
            if "n" in op: op["want"]=[get() for _ in range(op["n"])]
            elif "uris" in op: op["want"]=[get(path=u) for u in op["uris"]]
            elif "hdrs" in op: op["want"]=[get(hdr=h) for h in op["hdrs"]]
            elif "srcs" in op: op["want"]=[get(src=a) for a in op["srcs"]]
            elif "disable" in op: cli("disable server b/"+op["disable"])
            elif "enable" in op: cli("enable server b/"+op["enable"])
            elif "weight" in op: cli("set server b/%s weight %d"%tuple(op["weight"]))
    finally:
        p.terminate(); p.wait()
print(json.dumps(SC,indent=1))
