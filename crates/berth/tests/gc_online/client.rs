//! One client's run: a deterministic mix of new pushes (with referrer chains), untags,
//! deletes by digest, copies across repositories and pushes of untagged images again.

use crate::pusher::Pusher;
use crate::support::http::{pseudo_random, Image};
use crate::workload::{
    shared_layer, Artifact, Owned, Rng, ITERATIONS, REPOS, SBOM, SHARED_LAYERS, SIGNATURE,
};

/// The indexes of `owned` whose tag is (or is not) expected to be there.
fn indexes(owned: &[Owned], tagged: bool) -> Vec<usize> {
    (0..owned.len())
        .filter(|&i| owned[i].tagged == tagged)
        .collect()
}

impl Pusher {
    /// Runs the client to the end; returns everything it pushed, as it left it.
    pub async fn run(self) -> Result<Vec<Owned>, String> {
        let mut rng = Rng::new(self.id + 11);
        let mut owned: Vec<Owned> = Vec::new();
        for iteration in 0..ITERATIONS {
            let tagged = indexes(&owned, true);
            let untagged = indexes(&owned, false);
            let action = rng.below(10);
            if (4..=5).contains(&action) && !tagged.is_empty() {
                self.untag(&mut owned[rng.pick(&tagged)]).await?;
            } else if action == 6 && !owned.is_empty() {
                let all: Vec<usize> = (0..owned.len()).collect();
                self.delete_by_digest(&mut owned[rng.pick(&all)]).await?;
            } else if action == 7 && !tagged.is_empty() {
                self.copy(&mut rng, &mut owned, &tagged, iteration).await?;
            } else if action >= 8 && !untagged.is_empty() {
                let i = rng.pick(&untagged);
                self.push_again(&mut rng, &mut owned[i]).await?;
            } else {
                owned.push(self.push_new(&mut rng, iteration).await?);
            }
        }
        Ok(owned)
    }

    /// Untag: the image and its referrers become garbage.
    async fn untag(&self, o: &mut Owned) -> Result<(), String> {
        self.delete(&o.image.repo, &o.image.tag, false).await?;
        o.tagged = false;
        Ok(())
    }

    /// Delete by digest: a tagged image must still be there; an untagged one may have been
    /// collected already. Its referrers are orphaned.
    async fn delete_by_digest(&self, o: &mut Owned) -> Result<(), String> {
        let may_be_gone = !o.tagged;
        self.delete(&o.image.repo, &o.image.digest, may_be_gone)
            .await?;
        o.tagged = false;
        Ok(())
    }

    /// Copy a tagged image to another repository, mounting its blobs from there; skipped
    /// when that repository already holds it.
    async fn copy(
        &self,
        rng: &mut Rng,
        owned: &mut Vec<Owned>,
        tagged: &[usize],
        iteration: u64,
    ) -> Result<(), String> {
        let source = owned[rng.pick(tagged)].image.clone();
        let target = rng.other_repo(&source.repo);
        if owned
            .iter()
            .any(|o| o.image.repo == target && o.image.digest == source.digest)
        {
            return Ok(());
        }
        let copy = Image {
            repo: target.to_owned(),
            tag: format!("c{}-{iteration}", self.id),
            ..source.clone()
        };
        self.push_image(&copy, Some(&source.repo)).await?;
        owned.push(Owned {
            image: copy,
            tagged: true,
            artifacts: Vec::new(),
        });
        Ok(())
    }

    /// Push an untagged (maybe collected) image again, with all its referrers.
    async fn push_again(&self, rng: &mut Rng, o: &mut Owned) -> Result<(), String> {
        let image = &o.image;
        let mount_from = rng.chance(50).then(|| rng.other_repo(&image.repo));
        self.push_image(image, mount_from).await?;
        for artifact in &o.artifacts {
            self.push_artifact(&image.repo, artifact).await?;
        }
        o.tagged = true;
        Ok(())
    }

    /// Pushes a new tagged image, maybe with a signature, maybe with an SBOM signed in turn.
    async fn push_new(&self, rng: &mut Rng, iteration: u64) -> Result<Owned, String> {
        let seed = 1_000_000 * (self.id + 1) + iteration;
        let repo = REPOS[rng.below(REPOS.len() as u64) as usize];
        let mut layers = vec![shared_layer(rng.below(SHARED_LAYERS))];
        if rng.chance(50) {
            layers.push(pseudo_random(seed, 200 + rng.below(400) as usize));
        }
        let tag = format!("c{}-{iteration}", self.id);
        let image = Image::with_layers(repo, &tag, seed, layers);
        let mount_from = rng.chance(70).then(|| rng.other_repo(repo));
        self.push_image(&image, mount_from).await?;
        let mut artifacts = Vec::new();
        let size = image.manifest.len();
        if rng.chance(60) {
            let payload = pseudo_random(seed + 500_000, 64);
            artifacts.push(Artifact::new(SIGNATURE, &image.digest, size, payload));
        }
        if rng.chance(40) {
            let sbom_payload = pseudo_random(seed + 600_000, 300);
            let sbom = Artifact::new(SBOM, &image.digest, size, sbom_payload);
            let signature_payload = pseudo_random(seed + 700_000, 64);
            let signature = Artifact::new(
                SIGNATURE,
                &sbom.digest,
                sbom.manifest.len(),
                signature_payload,
            );
            artifacts.push(sbom);
            artifacts.push(signature);
        }
        for artifact in &artifacts {
            self.push_artifact(repo, artifact).await?;
        }
        Ok(Owned {
            image,
            tagged: true,
            artifacts,
        })
    }
}
