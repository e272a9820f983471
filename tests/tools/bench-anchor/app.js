// The anchor of BENCHMARKS.md's CDK row: CDK EKS Blueprints with the ADOT and X-Ray add-ons, the
// blueprint of shared/reference/eks-adot.md section 6.3. tests/tools/bench-cdk.sh synthesizes it.
// The load balancer controller is listed because CertManagerAddOn depends on it, and the ADOT
// version is pinned because 'auto' calls eks:DescribeAddonVersions at synth time.
const cdk = require('aws-cdk-lib');
const blueprints = require('@aws-quickstart/eks-blueprints');

const app = new cdk.App();
blueprints.EksBlueprint.builder()
  .account('123456789012')
  .region('us-east-1')
  .version('auto')
  .addOns(
    new blueprints.addons.AwsLoadBalancerControllerAddOn(),
    new blueprints.addons.CertManagerAddOn(),
    new blueprints.addons.AdotCollectorAddOn({ version: 'v0.151.0-eksbuild.1' }),
    new blueprints.addons.XrayAdotAddOn(),
  )
  .build(app, 'eks-blueprint-xray');
