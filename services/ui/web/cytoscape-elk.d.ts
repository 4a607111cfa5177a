/** cytoscape-elk ships no types: it is a cytoscape extension registered with cytoscape.use. */
declare module 'cytoscape-elk' {
  import type { Ext } from 'cytoscape';
  const register: Ext;
  export default register;
}
