# skiff publish / env log / env live / sbom against hub directories: generations 1 and 2 from
# `skiff cache add` paths, a real Nix closure with references (mkcache.sh) through --closure,
# --paths and --flox-lock, --include composition, the equal-priority conflict error, signatures
# verified by the hub client (file:// and http://), index.json, and CycloneDX SBOMs.
source "$(dirname "$0")/../lib.sh"

H=$T/hub
FX=$T/fx
"$FIXTURES/mkcache.sh" "$FX" 40 >/dev/null 2>&1
root=$(cat "$FX/root")
fxpk=$(cat "$FX/pk")

"$SKIFF" cache keygen pub-e2e --secret-file "$T/sk" --public-file "$T/pk"
pk=$(cat "$T/pk")
# An explicit node config, so that an /etc/skiff/config.json on the machine changes nothing.
echo "{\"store_root\": \"$T/node\", \"substituters\": [], \"trusted_public_keys\": [\"$pk\", \"$fxpk\"]}" >"$T/cfg.json"
# PUB: skiff publish with that config and the publisher's key (a script, usable in bash -c).
PUB=$T/pub
printf '#!/bin/sh\nexec "%s" publish --config "%s" --key "%s" "$@"\n' "$SKIFF" "$T/cfg.json" "$T/sk" >"$PUB"
chmod +x "$PUB"

mkpkg() { # mkpkg DIR FILE CONTENT -> store path
  mkdir -p "$(dirname "$T/src/$1/$2")"
  printf '%s' "$3" >"$T/src/$1/$2"
  chmod +x "$T/src/$1/$2"
  "$SKIFF" cache add "$T/src/$1" --to "file://$T/cache" --key "$T/sk"
}
hello1=$(mkpkg g1/hello-2.12.1 bin/hello $'#!/bin/sh\necho generation 1\n')
hello2=$(mkpkg g2/hello-2.12.2 bin/hello $'#!/bin/sh\necho generation 2\n')
greet=$(mkpkg greet-1.0 bin/hello $'#!/bin/sh\necho greet\n')
tools=$(mkpkg tools-3 share/tools/readme 'tools')
printf 'export HOOKED=1\n' >"$T/hook.sh"
env_dir=$H/skiff/v1/acme/hello
py() { $PY -c "$@"; }

# --- generations 1 and 2 --------------------------------------------------------------------
check "publish acme/hello prints acme/hello@1" \
  test "$("$PUB" acme/hello --hub "$H" --paths "$hello1" --cache "file://$T/cache" \
    --description "first" --var GREETING=one --hook "$T/hook.sh" --requires 'cuda=>=12.4')" = acme/hello@1
cp "$env_dir/1.json" "$T/1.json.orig"
check "publish again (file:// hub, --live) prints acme/hello@2" \
  test "$("$PUB" acme/hello --hub "file://$H" --paths "$hello2" --cache "file://$T/cache" \
    --description "second" --live)" = acme/hello@2
check "generation 1 is untouched" cmp -s "$env_dir/1.json" "$T/1.json.orig"
check "hub layout" test -f "$env_dir/1.json.sig" -a -f "$env_dir/2.json" -a -f "$env_dir/2.json.sig"
check "live is 2" test "$(cat "$env_dir/live")" = 2
check "signature file names the key" grep -q '^pub-e2e:' "$env_dir/1.json.sig"
check "skiff cache sign of 1.json equals the published 1.json.sig" \
  test "$("$SKIFF" cache sign "$env_dir/1.json" --key "$T/sk")" = "$(cat "$env_dir/1.json.sig")"
check "skiff cache sign without --key is a usage error (exit 2)" \
  bash -c '"$0" cache sign "$1" >/dev/null 2>&1; test $? = 2' "$SKIFF" "$env_dir/1.json"
check "generation 1 document: package, vars, hook, requires, closure entry" py "
import json,sys
d=json.load(open('$env_dir/1.json'))
s=d['systems']['x86_64-linux']
assert d['schema']=='skiff.dev/generation/v1' and d['environment']=='acme/hello' and d['generation']==1
assert d['description']=='first' and d['vars']=={'GREETING':'one'} and d['requires']=={'cuda':'>=12.4'}
assert d['hook']['on_activate']=='export HOOKED=1\n'
assert s['packages']==[{'name':'hello-2.12.1','path':'$hello1','priority':5}], s['packages']
c=s['closure']; assert len(c)==1 and c[0]['path']=='$hello1' and c[0]['references']==[]
ni=dict(l.split(': ',1) for l in open('$T/cache/'+'$hello1'.split('/')[-1][:32]+'.narinfo').read().splitlines())
assert c[0]['url']==ni['URL'] and c[0]['fileHash']==ni['FileHash'] and c[0]['narHash']==ni['NarHash']
assert c[0]['compression']=='zstd' and c[0]['narSize']==int(ni['NarSize']) and c[0]['fileSize']==int(ni['FileSize'])
assert s['substituters']==['file://$T/cache']
"
check "index.json lists both generations with their sha256" py "
import json,hashlib
ix=json.load(open('$env_dir/index.json'))
assert ix['schema']=='skiff.dev/index/v1' and ix['environment']=='acme/hello'
g=ix['generations']; assert [e['generation'] for e in g]==[1,2], g
for e in g:
    assert e['sha256']==hashlib.sha256(open('$env_dir/%d.json'%e['generation'],'rb').read()).hexdigest()
    assert e['created'].endswith('Z')
assert g[0]['description']=='first' and g[1]['description']=='second'
"

# --- env log ---------------------------------------------------------------------------------
"$SKIFF" env log acme/hello --hub "$H" --config "$T/cfg.json" >"$T/log.txt"
check "env log lists generation 1" grep -Eq '^1 +[0-9T:-]+Z +first$' "$T/log.txt"
check "env log marks 2 live" grep -Eq '^2 +[0-9T:-]+Z +live +second$' "$T/log.txt"
check "env log --json" py "
import json,subprocess
d=json.loads(subprocess.check_output(['$SKIFF','env','log','acme/hello','--hub','$H','--config','$T/cfg.json','--json']))
assert d['live']==2 and [(g['generation'],g['live']) for g in d['generations']]==[(1,False),(2,True)], d
"
mv "$env_dir/index.json" "$T/index.json.saved"
check "env log without index.json reads (and verifies) the documents" \
  bash -c "'$SKIFF' env log acme/hello --hub '$H' --config '$T/cfg.json' | grep -Eq '^2 .* live +second\$'"
echo '{"trusted_public_keys": []}' >"$T/nokeys.json"
check "env log without index.json refuses documents of an untrusted key" \
  bash -c "! '$SKIFF' env log acme/hello --hub '$H' --config '$T/nokeys.json' 2>'$T/err' && grep -q 'no valid signature' '$T/err'"
mv "$T/index.json.saved" "$env_dir/index.json"
check "env live moves the live pointer" bash -c "'$SKIFF' env live acme/hello 1 --hub '$H' && test \"\$(cat '$env_dir/live')\" = 1"
check "env live refuses a missing generation" bash -c "! '$SKIFF' env live acme/hello 9 --hub '$H' 2>/dev/null"
"$SKIFF" env live acme/hello 2 --hub "$H"

# --- signatures through the hub client, over http:// ----------------------------------------
port=$(serve "$H")
check "sbom over http verifies generation 2" \
  bash -c "'$SKIFF' sbom acme/hello@2 --hub http://127.0.0.1:$port --config '$T/cfg.json' >'$T/sbom2.json'"
check "sbom of the unpinned reference uses live (2)" \
  bash -c "'$SKIFF' sbom acme/hello --hub http://127.0.0.1:$port --config '$T/cfg.json' | cmp -s - '$T/sbom2.json'"
check "env log over http" bash -c "'$SKIFF' env log acme/hello --hub http://127.0.0.1:$port --config '$T/cfg.json' | grep -q second"
cp "$env_dir/1.json" "$T/1.json.keep"
sed -i 's/"first"/"forged"/' "$env_dir/1.json"
check "a tampered 1.json fails verification" \
  bash -c "! '$SKIFF' sbom acme/hello@1 --hub '$H' --config '$T/cfg.json' 2>'$T/err' >/dev/null && grep -q 'signature' '$T/err'"
cp "$T/1.json.keep" "$env_dir/1.json"

# --- a real closure with references (nix-build + nix copy) ----------------------------------
check "publish --closure of a nix closure" \
  bash -c "'$PUB' acme/fx --hub '$H' --closure '$FX/closure' --cache 'file://$FX/cache-xz' >/dev/null"
check "closure: 4 paths with references, root is the only package" py "
import json
d=json.load(open('$H/skiff/v1/acme/fx/1.json'))
s=d['systems']['x86_64-linux']
assert [p['path'] for p in s['packages']]==['$root'], s['packages']
c={e['path']:e for e in s['closure']}
assert sorted(c)==sorted(open('$FX/closure').read().split()), sorted(c)
for p,e in c.items():
    ni=dict(l.split(': ',1) for l in open('$FX/cache-xz/'+p.split('/')[-1][:32]+'.narinfo').read().splitlines())
    refs=sorted('/nix/store/'+r for r in ni.get('References','').split())
    assert sorted(e['references'])==refs and e['url']==ni['URL'] and e['compression']=='xz', (p, e, ni)
    assert e['fileHash'].split(':')[1]==ni['FileHash'].split(':')[1]
assert c['$root']['references'], 'root has references'
"
echo '{"store_root": "/nonexistent", "trusted_public_keys": []}' >"$T/nokeys.json"
check "narinfo signed by an untrusted key is refused" \
  bash -c "! '$SKIFF' publish --config '$T/nokeys.json' --key '$T/sk' acme/fx --hub '$H' --paths '$root' --cache 'file://$FX/cache-zstd' 2>'$T/err' && grep -q 'no valid signature' '$T/err'"
check "... and accepted with --no-check-sigs (generation 2)" \
  test "$("$SKIFF" publish --config "$T/nokeys.json" --key "$T/sk" acme/fx --hub "$H" --paths "$root" --cache "file://$FX/cache-zstd" --no-check-sigs)" = acme/fx@2
check "a path missing from every cache fails naming it" \
  bash -c "! '$PUB' acme/miss --hub '$H' --paths '$root' --cache 'file://$T/cache' 2>'$T/err' && grep -q '$root' '$T/err'"
check "equal-priority conflict inside one generation (env and app both link bin/app)" \
  bash -c "! '$PUB' acme/fxc --hub '$H' --paths '$root' $(grep -- -app- "$FX/closure") --cache 'file://$FX/cache-zstd' 2>'$T/err' && grep -q 'conflict at .bin/app.' '$T/err'"

# --- composition -----------------------------------------------------------------------------
"$PUB" acme/base --hub "$H" --paths "$tools" --cache "file://$T/cache" --var A=base --var B=base --live >/dev/null
check "include composes packages and vars (later wins)" bash -c "
  test \"\$('$PUB' acme/app --hub '$H' --include acme/base --paths '$hello1' --cache 'file://$T/cache' --var B=app)\" = acme/app@1"
check "composed document" py "
import json
d=json.load(open('$H/skiff/v1/acme/app/1.json'))
s=d['systems']['x86_64-linux']
assert d['includes']==['acme/base@1'], d.get('includes')
assert [p['path'] for p in s['packages']]==['$tools','$hello1']
assert d['vars']=={'A':'base','B':'app'}
assert sorted(e['path'] for e in s['closure'])==sorted(['$tools','$hello1'])
"
"$PUB" acme/x --hub "$H" --paths "$hello1" --cache "file://$T/cache" >/dev/null
"$PUB" acme/y --hub "$H" --paths "$greet" --cache "file://$T/cache" >/dev/null
check "include of two environments with a same-priority conflict fails naming both paths" \
  bash -c "! '$PUB' acme/z --hub '$H' --include acme/x@1 acme/y@1 --cache 'file://$T/cache' 2>'$T/err' && grep -q '$hello1' '$T/err' && grep -q '$greet' '$T/err'"
check "nothing was written for the conflicting environment" test ! -e "$H/skiff/v1/acme/z/1.json"
check "a lower priority number resolves the conflict" \
  test "$("$PUB" acme/z --hub "$H" --include acme/x@1 acme/y@1 --paths "$greet" --priority 1 --cache "file://$T/cache")" = acme/z@1

# --- Flox manifest.lock ------------------------------------------------------------------------
app=$(grep -- -app- "$FX/closure")
cat >"$T/manifest.lock" <<EOF
{"lockfile-version": 1,
 "manifest": {"version": 1, "install": {"fx": {"pkg-path": "fx"}}, "vars": {"FROM_FLOX": "yes"},
              "hook": {"on-activate": "echo flox"}, "options": {}},
 "packages": [
  {"attr_path": "fx", "install_id": "fx", "name": "skiff-fixture-env-pub", "pname": "fx",
   "version": "1", "derivation": "/nix/store/00000000000000000000000000000000-fx.drv",
   "outputs": {"out": "$root"}, "outputs_to_install": ["out"], "system": "x86_64-linux",
   "group": "toplevel", "priority": 5},
  {"install_id": "fx", "outputs": {"out": "/nix/store/11111111111111111111111111111111-fx"},
   "system": "aarch64-darwin", "priority": 5},
  {"install_id": "bb", "store_path": "$(grep -- -busybox- "$FX/closure")", "system": "x86_64-linux", "priority": 7}
 ]}
EOF
check "publish --flox-lock" \
  test "$("$PUB" acme/flox --hub "$H" --flox-lock "$T/manifest.lock" --cache "file://$FX/cache-zstd" --var EXTRA=1)" = acme/flox@1
check "flox packages, priorities, vars and hook" py "
import json
d=json.load(open('$H/skiff/v1/acme/flox/1.json'))
s=d['systems']['x86_64-linux']
assert [(p['path'],p['priority']) for p in s['packages']]==[('$root',5),('$(grep -- -busybox- "$FX/closure")',7)], s['packages']
assert d['vars']=={'FROM_FLOX':'yes','EXTRA':'1'} and d['hook']['on_activate']=='echo flox'
assert len(s['closure'])==4
"

# --- SBOM --------------------------------------------------------------------------------------
check "sbom is CycloneDX 1.5 with versions from store-path names" py "
import json,re,base64
d=json.load(open('$T/sbom2.json'))
assert d['bomFormat']=='CycloneDX' and d['specVersion']=='1.5' and d['version']==1
assert re.match(r'^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$', d['serialNumber'])
assert d['metadata']['component']['name']=='acme/hello' and d['metadata']['component']['version']=='2'
(c,)=d['components']
assert c['bom-ref']=='$hello2' and c['name']=='hello' and c['version']=='2.12.2', c
assert c['hashes'][0]['alg']=='SHA-256' and re.match('^[0-9a-f]{64}$', c['hashes'][0]['content'])
"
"$SKIFF" sbom acme/fx@1 --hub "$H" --config "$T/cfg.json" >"$T/sbom-fx.json"
check "sbom of the nix closure: names, versions, hashes equal to nix's, dependencies" py "
import json,subprocess
d=json.load(open('$T/sbom-fx.json'))
by={c['bom-ref']:c for c in d['components']}
assert sorted(by)==sorted(open('$FX/closure').read().split())
for p,c in by.items():
    h=subprocess.check_output(['nix-store','--query','--hash',p]).decode().strip()
    hexh=subprocess.check_output(['nix-hash','--type','sha256','--to-base16',h.split(':')[1]]).decode().strip()
    assert c['hashes'][0]['content']==hexh, (p, c['hashes'], hexh)
    base=p.split('/')[-1][33:]
    if base.startswith('skiff-fixture-'):
        assert c['name']==base[:-3] and c['version']=='40', c
    if base=='busybox-static':
        assert c['name']=='busybox-static' and 'version' not in c, c
deps={e['ref']:e['dependsOn'] for e in d['dependencies']}
assert deps['acme/fx@1']==['$root']
assert '$app' in deps['$root']
"

# --- concurrency: parallel publishes get distinct generations ---------------------------------
for i in 1 2 3 4; do "$PUB" acme/par --hub "$H" --paths "$hello1" --cache "file://$T/cache" >"$T/par.$i" 2>&1 & done
wait
check "4 parallel publishes took generations 1..4" bash -c "test \"\$(cat '$T'/par.* | sort | tr '\n' ' ')\" = 'acme/par@1 acme/par@2 acme/par@3 acme/par@4 '"
check "index.json has all 4" py "
import json; assert [g['generation'] for g in json.load(open('$H/skiff/v1/acme/par/index.json'))['generations']]==[1,2,3,4]"
finish
