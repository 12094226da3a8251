/** A `parallel` stage: its phases side by side, one branch each; their results merged. */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { parallelStateName } from '../../contract/config';
import { phaseSeconds, phaseStates } from './phase';
import type { StageBuilder } from './types';

/** States.JsonMerge of every branch's `phases`, nested as the intrinsic takes two at a time. */
function mergeExpression(branches: number): string {
  let expr = '$[0].phases';
  for (let i = 1; i < branches; i++) expr = `States.JsonMerge(${expr}, $[${i}].phases, false)`;
  return expr;
}

export const parallelStage: StageBuilder<'parallel'> = {
  build: (context, stage, index) => {
    const group = new sfn.Parallel(context.scope, parallelStateName(index), {
      comment: `Phases ${stage.parallel.map((p) => p.name).join(', ')} side by side`,
      resultSelector: {
        'run.$': '$[0].run',
        'phases.$': mergeExpression(stage.parallel.length),
      },
      resultPath: '$.merged',
      outputPath: '$.merged',
    });
    for (const phase of stage.parallel) group.branch(phaseStates(context, phase));
    return group;
  },
  maxDuration: (stage) => Duration.seconds(Math.max(...stage.parallel.map(phaseSeconds))),
};
