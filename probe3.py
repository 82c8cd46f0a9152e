import socket,sys
port=int(sys.argv[1])
cases=[
 b'GET / HTTP/1.1\r\n\r\n',
 b'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
 b'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: identity\r\n\r\n',
 b'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n',
 b'GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\n',
 b'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n',
 b'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 00003\r\n\r\nabc',
]
for i,c in enumerate(cases):
    s=socket.create_connection(('127.0.0.1',port)); s.settimeout(1.5)
    s.sendall(c)
    out=b''
    try:
        while True:
            d=s.recv(65536)
            if not d: break
            out+=d
    except Exception as e: out+=b'<timeout>'
    print(i, repr(c[:50]), '\n    ', repr(out[:300]))
