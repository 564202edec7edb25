// The registry reachable here serves only the linux-x64 builds of packages with per-platform binaries, so
// `npm install` writes optionalDependencies edges to packages it could not lock and `npm ci` then refuses the lock.
// Run after any dependency change: `node .ci/prune-lockfile.cjs package-lock.json`.
const fs=require('fs');const f=process.argv[2];const l=JSON.parse(fs.readFileSync(f));
let n=0;for(const [k,v] of Object.entries(l.packages)){ if(!v.optionalDependencies) continue;
 for(const d of Object.keys(v.optionalDependencies)){ const base=k?k+'/node_modules/'+d:'node_modules/'+d; if(!l.packages[base] && !l.packages['node_modules/'+d]){ delete v.optionalDependencies[d]; n++; } } }
fs.writeFileSync(f, JSON.stringify(l,null,2)+'\n'); console.log('pruned',n);
